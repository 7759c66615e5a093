// Drive yaml-language-server (the server VS Code's YAML extension runs) over stdio, as an
// editor does, and print what it reported as JSON: tests/test_editor_support.py reads it.
//
//   node driver.mjs JOB.json
//
// JOB.json: {"settings": {...the `yaml` settings of an editor...},
//            "documents": ["/abs/path.yaml", ...],
//            "completions": [{"path": ..., "line": L, "character": C}, ...],
//            "hovers": [{"path": ..., "line": L, "character": C}, ...]}
// Output:   {"diagnostics": {"/abs/path.yaml": [{line, character, severity, message,
//                                                 source}, ...]},
//            "completions": [[label, ...], ...], "hovers": ["markdown", ...]}
//
// The settings are sent before any document is opened, so the server validates each
// document once, when it is opened (with its modeline's schema, or the one
// `yaml.schemas` associates); the driver waits for every document's diagnostics, then
// asks for the completions and hovers, then shuts the server down.
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";

const require = createRequire(import.meta.url);
const SERVER = require.resolve("yaml-language-server/bin/yaml-language-server");
const job = JSON.parse(readFileSync(process.argv[2], "utf8"));
const uriOf = (path) => pathToFileURL(path).href;

const server = spawn(process.execPath, [SERVER, "--stdio"], {
  stdio: ["pipe", "pipe", "inherit"],
});
const watchdog = setTimeout(() => {
  process.stderr.write("driver: yaml-language-server did not answer within 50 s\n");
  server.kill();
  process.exit(3);
}, 50_000);

let nextId = 1;
const pending = new Map();
const diagnostics = new Map();
let diagnosticsWaiter = null;

function send(message) {
  const body = Buffer.from(JSON.stringify({ jsonrpc: "2.0", ...message }), "utf8");
  server.stdin.write(`Content-Length: ${body.length}\r\n\r\n`);
  server.stdin.write(body);
}

function request(method, params) {
  const id = nextId++;
  send({ id, method, params });
  return new Promise((resolve, reject) => pending.set(id, { resolve, reject }));
}

const notify = (method, params) => send({ method, params });

function settingsFor(items) {
  // workspace/configuration: one answer per item asked for.
  return items.map((item) => {
    if (item.section === "yaml") return job.settings;
    if (item.section === "editor") return { tabSize: 2, detectIndentation: false };
    return null;
  });
}

function onMessage(message) {
  if (message.id !== undefined && message.method === undefined) {
    const waiter = pending.get(message.id);
    pending.delete(message.id);
    if (message.error) waiter.reject(new Error(JSON.stringify(message.error)));
    else waiter.resolve(message.result);
  } else if (message.id !== undefined) {
    // A request from the server (configuration, capability registration).
    const result = message.method === "workspace/configuration"
      ? settingsFor(message.params.items)
      : null;
    send({ id: message.id, result });
  } else if (message.method === "textDocument/publishDiagnostics") {
    diagnostics.set(message.params.uri, message.params.diagnostics);
    if (diagnosticsWaiter) diagnosticsWaiter();
  }
}

let buffer = Buffer.alloc(0);
server.stdout.on("data", (chunk) => {
  buffer = Buffer.concat([buffer, chunk]);
  for (;;) {
    const end = buffer.indexOf("\r\n\r\n");
    if (end < 0) return;
    const header = buffer.subarray(0, end).toString("ascii");
    const length = Number(/Content-Length: (\d+)/i.exec(header)[1]);
    if (buffer.length < end + 4 + length) return;
    const body = buffer.subarray(end + 4, end + 4 + length).toString("utf8");
    buffer = buffer.subarray(end + 4 + length);
    onMessage(JSON.parse(body));
  }
});

function allDiagnosed(uris) {
  return new Promise((resolve) => {
    const check = () => {
      if (uris.every((uri) => diagnostics.has(uri))) {
        diagnosticsWaiter = null;
        resolve();
      }
    };
    diagnosticsWaiter = check;
    check();
  });
}

function hoverText(hover) {
  if (!hover) return "";
  const contents = Array.isArray(hover.contents) ? hover.contents : [hover.contents];
  return contents.map((c) => (typeof c === "string" ? c : c.value)).join("\n");
}

async function main() {
  const root = process.cwd();
  await request("initialize", {
    processId: process.pid,
    rootUri: uriOf(root),
    workspaceFolders: [{ uri: uriOf(root), name: "playbooks" }],
    capabilities: {
      workspace: { configuration: true, didChangeConfiguration: { dynamicRegistration: true } },
      textDocument: {
        publishDiagnostics: { relatedInformation: true },
        completion: { completionItem: { snippetSupport: false, documentationFormat: ["markdown"] } },
        hover: { contentFormat: ["markdown", "plaintext"] },
      },
    },
    initializationOptions: {},
  });
  notify("initialized", {});
  notify("workspace/didChangeConfiguration", { settings: { yaml: job.settings } });

  const uris = job.documents.map(uriOf);
  job.documents.forEach((path, i) => {
    notify("textDocument/didOpen", {
      textDocument: { uri: uris[i], languageId: "yaml", version: 1, text: readFileSync(path, "utf8") },
    });
  });
  await allDiagnosed(uris);

  const completions = [];
  for (const at of job.completions ?? []) {
    const result = await request("textDocument/completion", {
      textDocument: { uri: uriOf(at.path) },
      position: { line: at.line, character: at.character },
    });
    const items = Array.isArray(result) ? result : (result?.items ?? []);
    completions.push(items.map((item) => item.label));
  }
  const hovers = [];
  for (const at of job.hovers ?? []) {
    const result = await request("textDocument/hover", {
      textDocument: { uri: uriOf(at.path) },
      position: { line: at.line, character: at.character },
    });
    hovers.push(hoverText(result));
  }

  const out = { diagnostics: {}, completions, hovers };
  job.documents.forEach((path, i) => {
    out.diagnostics[path] = diagnostics.get(uris[i]).map((d) => ({
      line: d.range.start.line,
      character: d.range.start.character,
      severity: d.severity,
      message: d.message,
      source: d.source ?? "",
    }));
  });
  await request("shutdown", null);
  notify("exit", null);
  clearTimeout(watchdog);
  process.stdout.write(JSON.stringify(out, null, 1) + "\n");
}

main().catch((err) => {
  process.stderr.write(`driver: ${err.stack ?? err}\n`);
  server.kill();
  process.exit(1);
});
