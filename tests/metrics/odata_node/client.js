// An independent OData v4 client run against the feed (tests/metrics/test_odata_node.py):
// the OASIS OData TC's CSDL converter (odata-csdl, strict) reads $metadata, and the
// @odata/client library (OData v4 mode, HTTP Basic with an API key as the password)
// reads an entity set with a filter, following @odata.nextLink to the end.
// Usage: node client.js <service root URL> <API key> <entity set> <filter>
"use strict";
const { xml2json } = require("odata-csdl");
const { OData } = require("@odata/client");

async function main() {
  const [root, key, entitySet, filter] = process.argv.slice(2);
  const auth = "Basic " + Buffer.from(`powerbi:${key}`).toString("base64");
  const res = await fetch(`${root}$metadata`, { headers: { Authorization: auth } });
  const messages = [];
  const csdl = xml2json(await res.text(), { strict: true, messages });
  const schema = csdl.Yardstick;
  const container = schema.Container;
  const sets = Object.keys(container).filter((k) => !k.startsWith("$"));
  const keys = {};
  for (const name of sets) {
    const type = container[name].$Type.split(".").pop();
    keys[name] = schema[type].$Key;
  }

  const client = OData.New4({
    serviceEndpoint: root,
    credential: { username: "powerbi", password: key },
    commonHeaders: { Prefer: "odata.maxpagesize=5" },
  });
  const options = client.newOptions().filter(filter).count(true);
  let page = await client.newRequest({ collection: entitySet, method: "GET", params: options });
  if (page.error) throw new Error(JSON.stringify(page.error));
  const count = page["@odata.count"];
  const rows = [...page.value];
  let pages = 1;
  while (page["@odata.nextLink"]) {
    page = await client.requestUri(page["@odata.nextLink"]);
    if (page.error) throw new Error(JSON.stringify(page.error));
    rows.push(...page.value);
    pages += 1;
  }
  process.stdout.write(
    JSON.stringify({ version: csdl.$Version, messages, sets, keys, count, pages, rows })
  );
}

main().catch((err) => {
  process.stderr.write(String(err && err.stack ? err.stack : err));
  process.exit(1);
});
