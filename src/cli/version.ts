import pkg from "../../package.json" with { type: "json" }

/** The tool's version, from package.json: written into every backup manifest. */
export const toolVersion: string = pkg.version
