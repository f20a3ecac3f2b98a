// aloft's Node.js runtime interface client: the loop that AWS Lambda's
// Node.js runtime runs, written against the Lambda Runtime API with Node's
// standard library only. aloft writes this file to its cache and starts it as
// `node index.mjs` with AWS_LAMBDA_RUNTIME_API, _HANDLER and LAMBDA_TASK_ROOT
// set, as Lambda's /var/runtime/index.mjs is started.
//
// Behaviour follows Lambda's runtime (nodejs18.x to nodejs22.x):
// - _HANDLER "dir/file.export.path": file.js (CommonJS, or ES module under
//   "type": "module"), file.mjs (import) or file.cjs (require).
// - A handler that returns a promise is awaited; otherwise the result is the
//   callback's, sent once the event loop is empty while
//   context.callbackWaitsForEmptyEventLoop is true (the default).
// - Errors are sent as {errorType, errorMessage, trace}; an uncaught exception
//   or an unhandled rejection fails the current invocation and ends the process.
import http from "node:http";
import fs from "node:fs";
import path from "node:path";
import util from "node:util";
import { createRequire, register } from "node:module";
import { pathToFileURL } from "node:url";

const API = process.env.AWS_LAMBDA_RUNTIME_API;
const [apiHost, apiPort] = API.split(":");
const BASE = "/2018-06-01/runtime";
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

function request(method, urlPath, body, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: apiHost, port: apiPort, method, path: BASE + urlPath, agent, headers },
      (res) => {
        const chunks = [];
        res.on("data", (c) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    if (body !== undefined) {
      req.setHeader("Content-Type", "application/json");
      req.setHeader("Content-Length", Buffer.byteLength(body));
      req.end(body);
    } else {
      req.end();
    }
  });
}

// Logging: every console line carries the timestamp, request id and level, as
// Lambda's text log format has it.
let currentRequestId = undefined;
function patchConsole() {
  const levels = { log: "INFO", info: "INFO", warn: "WARN", error: "ERROR", debug: "DEBUG", trace: "TRACE" };
  for (const [name, level] of Object.entries(levels)) {
    const stream = name === "error" || name === "warn" ? process.stderr : process.stdout;
    console[name] = (...args) => {
      let msg = util.format(...args);
      if (name === "trace") msg += "\n" + new Error().stack.split("\n").slice(2).join("\n");
      stream.write(`${new Date().toISOString()}\t${currentRequestId ?? "undefined"}\t${level}\t${msg}\n`);
    };
  }
}

function errorDocument(err) {
  if (err instanceof Error || (err && typeof err === "object" && "message" in err)) {
    return {
      errorType: err.name || err.constructor?.name || "Error",
      errorMessage: String(err.message),
      trace: typeof err.stack === "string" ? err.stack.split("\n") : [],
    };
  }
  return { errorType: typeof err, errorMessage: String(err), trace: [] };
}

async function postError(urlPath, doc) {
  const body = JSON.stringify(doc);
  await request("POST", urlPath, body, { "Lambda-Runtime-Function-Error-Type": doc.errorType });
}

class HandlerError extends Error {
  constructor(type, message) {
    super(message);
    this.name = type;
  }
}

// findModule returns the file _HANDLER's module part names, trying the
// extensions Lambda tries.
function findModule(root, modulePath) {
  for (const ext of [".js", ".mjs", ".cjs"]) {
    const file = path.resolve(root, modulePath + ext);
    if (fs.existsSync(file)) return file;
  }
  return undefined;
}

// isESM reports whether a .js file is an ES module: the nearest package.json
// says "type": "module".
function isESM(file) {
  if (file.endsWith(".mjs")) return true;
  if (file.endsWith(".cjs")) return false;
  for (let dir = path.dirname(file); ; dir = path.dirname(dir)) {
    const pj = path.join(dir, "package.json");
    if (fs.existsSync(pj)) {
      try {
        return JSON.parse(fs.readFileSync(pj, "utf8")).type === "module";
      } catch {
        return false;
      }
    }
    if (path.dirname(dir) === dir) return false;
  }
}

// resolveFromLayers lets ES modules import packages from the layers'
// node_modules directories, as Lambda's Node.js 18+ runtimes allow: ES module
// resolution ignores NODE_PATH, so a resolve hook retries a bare specifier
// that was not found from each NODE_PATH directory. Registered only for ES
// module handlers of functions with layers (the hook runs on a loader thread,
// which costs start-up time).
function resolveFromLayers(root) {
  const dirs = (process.env.NODE_PATH || "").split(":").filter((d) => d && d !== root && fs.existsSync(d));
  if (dirs.length === 0 || typeof register !== "function") return;
  const parents = dirs.map((d) => pathToFileURL(path.join(d, "index.mjs")).href);
  const hook = `
const parents = ${JSON.stringify(parents)};
export async function resolve(specifier, context, next) {
  try {
    return await next(specifier, context);
  } catch (err) {
    if (err?.code !== "ERR_MODULE_NOT_FOUND" || /^(\\.|\\/|[a-zA-Z][a-zA-Z0-9+.-]*:)/.test(specifier)) throw err;
    for (const parentURL of parents) {
      try {
        return await next(specifier, { ...context, parentURL });
      } catch {}
    }
    throw err;
  }
}`;
  register("data:text/javascript," + encodeURIComponent(hook));
}

async function loadHandler(root, handlerString) {
  const base = path.basename(handlerString);
  const dot = base.indexOf(".");
  if (dot < 0) throw new HandlerError("Runtime.MalformedHandlerName", `Bad handler ${handlerString}`);
  const modulePath = path.join(path.dirname(handlerString), base.slice(0, dot));
  const exportPath = base.slice(dot + 1);
  const file = findModule(root, modulePath);
  if (!file) {
    throw new HandlerError("Runtime.ImportModuleError", `Error: Cannot find module '${modulePath}'`);
  }
  let mod;
  try {
    if (isESM(file)) {
      resolveFromLayers(root);
      mod = await import(pathToFileURL(file).href);
    } else {
      mod = createRequire(file)(file);
    }
  } catch (err) {
    if (err instanceof SyntaxError) {
      throw new HandlerError("Runtime.UserCodeSyntaxError", `${err.name}: ${err.message}`);
    }
    throw err;
  }
  let fn = mod;
  for (const part of exportPath.split(".")) {
    fn = fn?.[part];
  }
  if (fn === undefined && mod?.default && typeof mod.default === "object") {
    // A CommonJS module imported as ESM exposes its exports on default.
    fn = mod.default;
    for (const part of exportPath.split(".")) fn = fn?.[part];
  }
  if (fn === undefined) {
    throw new HandlerError("Runtime.HandlerNotFound", `${modulePath}.${exportPath} is undefined or not exported`);
  }
  if (typeof fn !== "function") {
    throw new HandlerError("Runtime.HandlerNotFound", `${modulePath}.${exportPath} is not a function`);
  }
  return fn;
}

function makeContext(headers, state) {
  const deadline = Number(headers["lambda-runtime-deadline-ms"]);
  const ctx = {
    awsRequestId: headers["lambda-runtime-aws-request-id"],
    invokedFunctionArn: headers["lambda-runtime-invoked-function-arn"],
    functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
    functionVersion: process.env.AWS_LAMBDA_FUNCTION_VERSION,
    memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    logGroupName: process.env.AWS_LAMBDA_LOG_GROUP_NAME,
    logStreamName: process.env.AWS_LAMBDA_LOG_STREAM_NAME,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    callbackWaitsForEmptyEventLoop: true,
    // Legacy completion methods, still honoured by Lambda.
    done: (err, result) => state.finish(err, result),
    succeed: (result) => state.finish(null, result),
    fail: (err) => state.finish(err ?? "handled"),
  };
  if (headers["lambda-runtime-client-context"]) {
    try {
      ctx.clientContext = JSON.parse(headers["lambda-runtime-client-context"]);
    } catch {}
  }
  if (headers["lambda-runtime-cognito-identity"]) {
    try {
      ctx.identity = JSON.parse(headers["lambda-runtime-cognito-identity"]);
    } catch {}
  }
  return ctx;
}

// invoke runs the handler for one event and resolves once its result has been
// posted.
function invoke(handler, event, headers) {
  return new Promise((resolve) => {
    const id = headers["lambda-runtime-aws-request-id"];
    let finished = false;
    const state = {};
    const context = makeContext(headers, state);
    const post = async (err, result) => {
      try {
        if (err !== null && err !== undefined) {
          const doc = errorDocument(err);
          console.error("Invoke Error", JSON.stringify(doc));
          await postError(`/invocation/${id}/error`, doc);
        } else {
          let body;
          try {
            body = JSON.stringify(result === undefined ? null : result);
          } catch (e) {
            const doc = { errorType: "Runtime.MarshalError", errorMessage: `Unable to stringify response body: ${e.message}`, trace: [] };
            await postError(`/invocation/${id}/error`, doc);
            return resolve();
          }
          await request("POST", `/invocation/${id}/response`, body ?? "null");
        }
      } catch (e) {
        process.stderr.write(`aloft runtime: cannot reach the Runtime API: ${e}\n`);
        process.exit(1);
      }
      resolve();
    };
    // A callback-style handler that never calls back answers null once the
    // event loop is empty, as on Lambda.
    const noCallback = () => {
      if (finished) return;
      finished = true;
      post(null, null);
    };
    state.finish = (err, result) => {
      if (finished) return;
      finished = true;
      process.removeListener("beforeExit", noCallback);
      if (context.callbackWaitsForEmptyEventLoop) {
        // Lambda sends a callback's result when nothing else is left to run.
        process.once("beforeExit", () => post(err, result));
      } else {
        post(err, result);
      }
    };
    const callback = (err, result) => state.finish(err, result);
    let ret;
    try {
      ret = handler(event, context, callback);
    } catch (err) {
      finished = true;
      return post(err);
    }
    if (ret && typeof ret.then === "function") {
      ret.then(
        (result) => {
          if (finished) return;
          finished = true;
          post(null, result);
        },
        (err) => {
          if (finished) return;
          finished = true;
          post(err ?? new Error("handler rejected with " + err));
        },
      );
    } else if (!finished) {
      process.once("beforeExit", noCallback);
    }
  });
}

let inFlight = undefined; // the request id being handled, for crash reports
let initialized = false; // the handler has loaded: later crashes are not init errors

async function crash(doc, code) {
  console.error(doc.errorType === "Runtime.UnhandledPromiseRejection" ? "Unhandled Promise Rejection" : "Uncaught Exception", JSON.stringify(doc));
  try {
    if (inFlight) {
      await postError(`/invocation/${inFlight}/error`, doc);
    } else if (!initialized) {
      await postError("/init/error", doc);
    }
    // Between invocations there is nothing to fail (and the connection is
    // busy waiting for the next event): the process just ends, as on Lambda.
  } finally {
    process.exit(code);
  }
}

process.on("uncaughtException", (err) => crash(errorDocument(err), 129));
process.on("unhandledRejection", (reason) => {
  const doc = {
    errorType: "Runtime.UnhandledPromiseRejection",
    errorMessage: reason instanceof Error ? `${reason.name}: ${reason.message}` : String(reason),
    trace: reason instanceof Error && reason.stack ? reason.stack.split("\n") : [],
  };
  crash(doc, 128);
});

async function main() {
  patchConsole();
  const root = process.env.LAMBDA_TASK_ROOT || process.cwd();
  let handler;
  try {
    handler = await loadHandler(root, process.env._HANDLER || "");
  } catch (err) {
    const doc = errorDocument(err);
    console.error(JSON.stringify(doc));
    await postError("/init/error", doc);
    process.exit(129);
  }
  initialized = true;
  for (;;) {
    const next = await request("GET", "/invocation/next");
    if (next.status !== 200) {
      process.stderr.write(`aloft runtime: invocation/next answered ${next.status}: ${next.body}\n`);
      process.exit(1);
    }
    const headers = next.headers;
    const id = headers["lambda-runtime-aws-request-id"];
    if (headers["lambda-runtime-trace-id"]) process.env._X_AMZN_TRACE_ID = headers["lambda-runtime-trace-id"];
    else delete process.env._X_AMZN_TRACE_ID;
    let event;
    try {
      event = JSON.parse(next.body.toString("utf8") || "null");
    } catch (err) {
      await postError(`/invocation/${id}/error`, { errorType: "Runtime.UnmarshalError", errorMessage: err.message, trace: [] });
      continue;
    }
    currentRequestId = id;
    inFlight = id;
    await invoke(handler, event, headers);
    inFlight = undefined;
  }
}

main().catch((err) => crash(errorDocument(err), 1));
