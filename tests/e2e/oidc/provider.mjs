// A real OpenID Connect provider on loopback, for the browser test of `st.login`
// (tests/e2e/test_identity_browser.py). oidc-provider's development login page accepts any login and
// password; the login becomes the account: sub = login, email = <login>@example.org, name = Login.
// Usage: node provider.mjs PORT REDIRECT_URI CLIENT_ID CLIENT_SECRET
import Provider from 'oidc-provider';

const [port, redirectUri, clientId, clientSecret] = process.argv.slice(2);
const issuer = `http://127.0.0.1:${port}`;

const provider = new Provider(issuer, {
  clients: [{
    client_id: clientId,
    client_secret: clientSecret,
    redirect_uris: [redirectUri],
    grant_types: ['authorization_code'],
    response_types: ['code'],
  }],
  async findAccount(ctx, id) {
    return {
      accountId: id,
      async claims() {
        return { sub: id, email: `${id}@example.org`, email_verified: true, name: id[0].toUpperCase() + id.slice(1) };
      },
    };
  },
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
  features: { devInteractions: { enabled: true } },
  // put the e-mail and name in the ID token (as Google and most providers do): st.user shows the ID token's claims
  conformIdTokenClaims: false,
  cookies: { keys: ['pretext-lab-test-only'] },
});
provider.on('server_error', (ctx, err) => console.error('server_error', err));
provider.listen(Number(port), '127.0.0.1', () => console.log(`oidc-provider listening on ${issuer}`));
