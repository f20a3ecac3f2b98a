// The gateway tests' Node.js handler, as it would run on AWS Lambda's nodejs
// runtimes: it echoes the event it received, or answers as the "action"
// query parameter asks.
export const handler = async (event) => {
  const q = event.queryStringParameters || {};
  switch (q.action) {
    case "binary": {
      const body = event.isBase64Encoded ? event.body : Buffer.from(event.body || "").toString("base64");
      return { statusCode: 200, headers: { "Content-Type": "application/octet-stream" }, body, isBase64Encoded: true };
    }
    case "multi":
      return { statusCode: 201, multiValueHeaders: { "X-Multi": ["a", "b"] }, body: "multi" };
    case "cookies":
      return { statusCode: 200, cookies: ["a=1", "b=2"], body: "cookies" };
    case "simple":
      return { hello: "node" };
    case "error":
      throw new Error("handler failed");
  }
  return { statusCode: 200, headers: { "Content-Type": "application/json" }, body: JSON.stringify({ raw: event }) };
};
