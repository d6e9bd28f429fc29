/**
 * Just enough Markdown reading for the documentation checks: the prose of a file (code left
 * out), its links, and its headings as GitHub names their anchors.
 */

/** The file with fenced code blocks blanked out (line numbers kept). */
function withoutFences(markdown: string): string {
  let fence: string | null = null;
  return markdown
    .split('\n')
    .map((line) => {
      const marker = /^\s{0,3}(`{3,}|~{3,})/.exec(line)?.[1];
      if (fence === null && marker) {
        fence = marker;
        return '';
      }
      if (fence !== null) {
        if (marker && marker[0] === fence[0] && marker.length >= fence.length) fence = null;
        return '';
      }
      return line;
    })
    .join('\n');
}

/** The prose of a file: fenced code blocks and inline code spans blanked out (line numbers kept). */
export function proseOf(markdown: string): string {
  return withoutFences(markdown).replace(/(`+)[\s\S]*?\1/g, (span) => span.replace(/[^\n]/g, ' '));
}

export interface Link {
  target: string;
  line: number;
}

/**
 * Every link in the prose: inline links and images `[text](target)`, reference definitions
 * `[name]: target`, autolinks `<https://…>` and bare http(s) URLs (GitHub links those too).
 */
export function linksOf(markdown: string): Link[] {
  const prose = proseOf(markdown);
  const links: Link[] = [];
  const lineAt = (index: number) => prose.slice(0, index).split('\n').length;
  const patterns = [
    /!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g,
    /^\s{0,3}\[[^\]]+\]:\s*<?([^\s>]+)>?/gm,
    /<(https?:\/\/[^>\s]+)>/g,
  ];
  const seen = new Set<number>();
  for (const pattern of patterns) {
    for (const match of prose.matchAll(pattern)) {
      links.push({ target: match[1], line: lineAt(match.index!) });
      seen.add(match.index! + match[0].indexOf(match[1]));
    }
  }
  for (const match of prose.matchAll(/https?:\/\/[^\s<>()[\]`"']+/g)) {
    if (seen.has(match.index!)) continue;
    links.push({ target: match[0].replace(/[.,;:!?]+$/, ''), line: lineAt(match.index!) });
  }
  return links;
}

/** ATX headings (`# …` to `###### …`) outside code blocks, as written (inline code is part of the anchor). */
export function headingsOf(markdown: string): string[] {
  return withoutFences(markdown)
    .split('\n')
    .map((line) => /^\s{0,3}#{1,6}\s+(.*?)(?:\s+#+)?\s*$/.exec(line)?.[1])
    .filter((text): text is string => text !== undefined);
}

/**
 * The anchor GitHub gives a heading: its text (links reduced to their text) in lower case, with
 * everything but letters, digits, marks, connector punctuation (`_`), spaces and hyphens removed,
 * and each space made a hyphen.
 */
export function githubSlug(heading: string): string {
  return heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
    .replace(/ /g, '-');
}

/** Every anchor of a file: repeated slugs get -1, -2, … as on GitHub. */
export function anchorsOf(markdown: string): Set<string> {
  const counts = new Map<string, number>();
  const anchors = new Set<string>();
  for (const heading of headingsOf(markdown)) {
    const slug = githubSlug(heading);
    const seen = counts.get(slug) ?? 0;
    counts.set(slug, seen + 1);
    anchors.add(seen === 0 ? slug : `${slug}-${seen}`);
  }
  return anchors;
}
