/** Items for a message: all of them when few, else the first `max` and how many more. */
export const shortList = (items: ReadonlyArray<string>, max = 5): string =>
  items.length <= max ? items.join(", ") : `${items.slice(0, max).join(", ")} and ${items.length - max} more`
