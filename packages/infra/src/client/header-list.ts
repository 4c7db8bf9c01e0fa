/**
 * A request's headers as the flat list http.request takes as they are (from an object it
 * lowercases, validates and stores each name, then writes them out again). The list gets the
 * same checks of names and values; Host (and Authorization for credentials in the URL) are added
 * here unless the headers have them.
 */
export function headerList(headers: Record<string, string>, hostHeader: string, basicAuth: string | undefined): string[] {
  const list: string[] = [];
  let host = true;
  let auth = basicAuth !== undefined;
  for (const name in headers) {
    list.push(name, headers[name]!);
    if (name.length === 4 && name.toLowerCase() === 'host') host = false;
    else if (auth && name.length === 13 && name.toLowerCase() === 'authorization') auth = false;
  }
  if (host) list.push('host', hostHeader);
  if (auth) list.push('authorization', basicAuth!);
  return list;
}
