// Subject filters as the store needs them: does a stored (literal) subject match a filter that may
// hold `*` (one token) and `>` (one or more trailing tokens)? '' and '>' mean every subject.

export class SubjectFilter {
  readonly text: string;
  /** True when every subject matches. */
  readonly all: boolean;
  /** True when the filter has no wildcard, so it names exactly one subject. */
  readonly literal: boolean;
  private readonly tokens: string[];

  constructor(filter: string) {
    this.text = filter;
    this.all = filter === '' || filter === '>';
    this.tokens = this.all ? [] : filter.split('.');
    this.literal = !this.all && !this.tokens.some((t) => t === '*' || t === '>');
  }

  matches(subject: string): boolean {
    if (this.all) return true;
    if (this.literal) return subject === this.text;
    const filterTokens = this.tokens;
    let start = 0;
    for (let i = 0; i < filterTokens.length; i++) {
      if (start > subject.length) return false;
      const ft = filterTokens[i]!;
      if (ft === '>') return start < subject.length;
      let end = subject.indexOf('.', start);
      if (end < 0) end = subject.length;
      if (ft !== '*') {
        if (end - start !== ft.length || !subject.startsWith(ft, start)) return false;
      } else if (end === start) {
        return false;
      }
      start = end + 1;
    }
    return start === subject.length + 1;
  }
}
