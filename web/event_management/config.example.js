// The shape of config.js, which the deploy writes beside index.html (never commit a real one).
// index.html loads config.js before app.js; app.js refuses to start, and says why, when one of
// the five required keys is missing.
window.BLUEPRINTS_CONFIG = {
  // Required: the REST API's stage URL (the id token goes in its Authorization header).
  apiUrl: "https://abcdef1234.execute-api.eu-west-1.amazonaws.com/dev",
  // Required: the user pool's region, pool id and web client id (no secret: it is a public client
  // allowing exactly ALLOW_USER_PASSWORD_AUTH and ALLOW_REFRESH_TOKEN_AUTH).
  region: "eu-west-1",
  userPoolId: "eu-west-1_AbCdEfGhI",
  userPoolClientId: "1example23456789abcdefghij",
  // Required: Cognito's JSON API; in local mode, the embedded AWS's URL.
  cognitoEndpoint: "https://cognito-idp.eu-west-1.amazonaws.com/",

  // Optional: the event's name for the page title (default "Event").
  eventName: "Serverless Days",
  // Optional: the user pool's password policy, shown on the sign-up form (default: this one).
  passwordPolicy: {
    minimumLength: 12, requireLowercase: true, requireUppercase: true, requireNumbers: true,
    requireSymbols: true,
  },
  // Optional: the request types the API accepts (default: the service's default types).
  requestTypes: ["handout", "food", "help"],
};
