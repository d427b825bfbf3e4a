/**
 * The permission policy of resource tarballs: directories 0700; files 0600, or executable
 * (a `.sh` key of the installer's layout) 0755 when world-executable on disk, else 0700.
 * Setuid, setgid, sticky and group/other write bits never survive.
 */
export const directoryMode = 0o700

export const normalizeFileMode = (mode: number): number => {
  if ((mode & 0o100) === 0) return 0o600
  return (mode & 0o001) !== 0 ? 0o755 : 0o700
}
