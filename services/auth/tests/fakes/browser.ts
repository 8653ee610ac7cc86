/** Where the provider finally sends the browser: our callback, as a redirect (GET) or an auto-submitted form (POST). */
export interface CallbackRequest {
  method: 'GET' | 'POST';
  /** The callback URL as the provider wrote it (on AUTH_PUBLIC_URL). */
  url: URL;
  /** form_post fields, for POST. */
  form?: URLSearchParams;
}

function decodeHtml(s: string): string {
  return s.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}

/**
 * Just enough of a browser for an OAuth round trip: keeps each origin's cookies, follows redirects one by
 * one, and stops when the next hop is our own callback (under `publicUrl`) — either a 30x to it, or a
 * `form_post` page whose form targets it. Every request to a provider carries `headers` (the fakes read
 * `x-test-account` to know who "logs in").
 */
export class Browser {
  private readonly cookies = new Map<string, Map<string, string>>();

  constructor(
    private readonly publicUrl: string,
    private readonly headers: Record<string, string>,
  ) {}

  async authorize(start: string, maxHops = 10): Promise<CallbackRequest> {
    let url = new URL(start);
    for (let hop = 0; hop < maxHops; hop++) {
      if (this.isCallback(url)) return { method: 'GET', url };
      const res = await fetch(url, { redirect: 'manual', headers: { ...this.headers, cookie: this.cookieHeader(url) } });
      this.store(url, res.headers.getSetCookie());
      const location = res.headers.get('location');
      if (res.status >= 300 && res.status < 400 && location) {
        url = new URL(location, url);
        continue;
      }
      const body = await res.text();
      const form = /<form[^>]*method="post"[^>]*action="([^"]+)"/i.exec(body);
      if (res.status === 200 && form) {
        const action = new URL(decodeHtml(form[1]!), url);
        const fields = new URLSearchParams();
        for (const input of body.matchAll(/<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"/gi)) fields.append(decodeHtml(input[1]!), decodeHtml(input[2]!));
        if (!this.isCallback(action)) throw new Error(`form_post to an unexpected place: ${action.toString()}`);
        return { method: 'POST', url: action, form: fields };
      }
      throw new Error(`the provider stopped at ${url.toString()} with ${res.status}: ${body.slice(0, 500)}`);
    }
    throw new Error(`more than ${maxHops} redirects from ${start}`);
  }

  private isCallback(url: URL): boolean {
    return url.toString().startsWith(this.publicUrl);
  }

  private cookieHeader(url: URL): string {
    return [...(this.cookies.get(url.origin) ?? new Map<string, string>())].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  private store(url: URL, setCookies: string[]): void {
    const jar = this.cookies.get(url.origin) ?? new Map<string, string>();
    for (const line of setCookies) {
      const [pair, ...attrs] = line.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1).trim();
      const expired = attrs.some((a) => /^\s*max-age=0\s*$/i.test(a) || (/^\s*expires=/i.test(a) && Date.parse(a.split('=')[1]!) < Date.now()));
      if (expired || value === '') jar.delete(name);
      else jar.set(name, value);
    }
    this.cookies.set(url.origin, jar);
  }
}
