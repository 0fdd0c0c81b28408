// An agent of examples/gateway/README.md: an MCP SDK 2.x client that signs itself a token (in
// real use your identity provider issues it), connects to the gateway (negotiating 2026-07-28),
// and shows what the policy does. Run it while start.mjs runs, with the same secret:
//
//   TOOLGATE_JWT_SECRET=... node examples/gateway/client.mjs [agent-name] [team] [roles...]
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { SignJWT } from "jose";

const [name = "agent-1", team = "red", ...roles] = process.argv.slice(2);
const url = new URL(process.env.GATEWAY_URL ?? `http://127.0.0.1:${process.env.PORT ?? "8080"}/mcp`);
const token = await new SignJWT({ sub: name, team, roles })
  .setProtectedHeader({ alg: "HS256" })
  .setAudience("toolgate-example")
  .setIssuedAt()
  .setExpirationTime("10m")
  .sign(new TextEncoder().encode(process.env.TOOLGATE_JWT_SECRET));

const client = new Client({ name, version: "1.0.0" }, { versionNegotiation: { mode: "auto" } });
await client.connect(
  new StreamableHTTPClientTransport(url, { requestInit: { headers: { authorization: `Bearer ${token}` } } }),
);
console.log(`${name}: protocol ${client.getNegotiatedProtocolVersion()}`);
console.log(`${name}: tools ${(await client.listTools()).tools.map((t) => t.name).join(", ")}`);

const show = (result) => {
  const decision = result._meta?.["toolgate/decision"];
  return decision
    ? `refused (${decision.outcome}${decision.cause ? `, ${decision.cause}` : ""}): ${result.content[0]?.text}`
    : result.content[0]?.text;
};
for (let i = 1; i <= 4; i++)
  console.log(
    `${name}: echo #${i}: ${show(await client.callTool({ name: "echo", arguments: { message: `hello ${i}` } }))}`,
  );
console.log(`${name}: get-sum: ${show(await client.callTool({ name: "get-sum", arguments: { a: 2, b: 3 } }))}`);
console.log(`${name}: get-env: ${show(await client.callTool({ name: "get-env", arguments: {} }))}`);
await client.close();
