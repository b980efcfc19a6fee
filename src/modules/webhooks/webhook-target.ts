import * as http from 'node:http';
import * as https from 'node:https';
import ipaddr from 'ipaddr.js';
import { badUserInput } from 'keyholder-directive/errors.js';
import { RequestFilteringHttpAgent, RequestFilteringHttpsAgent } from 'request-filtering-agent';

/**
 * Where webhooks may be sent. Loopback, link-local (cloud metadata included), private, multicast
 * and other reserved addresses are refused unless a range in `allowedNetworks` (CIDR, from
 * `WEBHOOK_ALLOWED_NETWORKS`, for on-premises receivers) contains them. Checked twice: a URL whose
 * host is such an address (or `localhost`) is refused when the webhook is created, and every
 * delivery checks the address it actually connects to (`request-filtering-agent`), so a name that
 * resolves elsewhere later (DNS rebinding) gets nowhere.
 */
export class WebhookTargets {
  readonly #allowed: readonly string[];
  readonly #httpAgent: RequestFilteringHttpAgent;
  readonly #httpsAgent: RequestFilteringHttpsAgent;

  constructor(allowedNetworks: readonly string[] = []) {
    this.#allowed = allowedNetworks;
    const filter = {
      allowPrivateIPAddress: false,
      allowMetaIPAddress: false,
      allowIPAddressList: [...allowedNetworks],
      keepAlive: false,
    };
    this.#httpAgent = new RequestFilteringHttpAgent(filter);
    this.#httpsAgent = new RequestFilteringHttpsAgent(filter);
  }

  /** Throws `BAD_USER_INPUT` for a URL whose host is a refused literal address or `localhost`. */
  assertAllowedUrl(url: string): void {
    const host = new URL(url).hostname.replace(/^\[|\]$/g, '');
    if (host === 'localhost' || host.endsWith('.localhost')) {
      throw badUserInput(
        `A webhook cannot be sent to ${host}: loopback receivers must be listed in WEBHOOK_ALLOWED_NETWORKS.`,
        { field: 'url' },
      );
    }
    if (!ipaddr.isValid(host)) return;
    const address = ipaddr.process(host);
    const range = address.range();
    if (range === 'unicast' || this.#isAllowed(address)) return;
    throw badUserInput(
      `A webhook cannot be sent to ${host}, a ${range} address; list its network in WEBHOOK_ALLOWED_NETWORKS for an on-premises receiver.`,
      { field: 'url', range },
    );
  }

  /** POSTs `body` to `url` through the filtering agents; resolves to the HTTP status. */
  post(
    url: string,
    headers: Record<string, string>,
    body: string,
    signal: AbortSignal,
  ): Promise<number> {
    const target = new URL(url);
    const send = target.protocol === 'https:' ? https.request : http.request;
    return new Promise<number>((resolve, reject) => {
      const request = send(
        target,
        {
          method: 'POST',
          headers: { ...headers, 'content-length': Buffer.byteLength(body).toString() },
          agent: target.protocol === 'https:' ? this.#httpsAgent : this.#httpAgent,
          signal,
        },
        (response) => {
          response.resume();
          resolve(response.statusCode ?? 0);
        },
      );
      request.on('error', reject);
      request.end(body);
    });
  }

  #isAllowed(address: ipaddr.IPv4 | ipaddr.IPv6): boolean {
    return this.#allowed.some((cidr) => {
      try {
        const [network, bits] = ipaddr.parseCIDR(cidr);
        if (address.kind() !== network.kind()) return false;
        return address.kind() === 'ipv4'
          ? (address as ipaddr.IPv4).match(network as ipaddr.IPv4, bits)
          : (address as ipaddr.IPv6).match(network as ipaddr.IPv6, bits);
      } catch {
        return false;
      }
    });
  }
}
