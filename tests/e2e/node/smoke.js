// dockerode against berthd, as a Node.js test suite would use it. Usage: node smoke.js SOCKET
// Prints one line per step and exits non-zero at the first step whose result is wrong.
'use strict';
const assert = require('assert');
const { PassThrough } = require('stream');
const Docker = require('dockerode');

const docker = new Docker({ socketPath: process.argv[2] });
const LABEL = 'berth.test=node-' + process.pid;

function frames(buf) {
  const out = { stdout: '', stderr: '' };
  for (let i = 0; i + 8 <= buf.length;) {
    const size = buf.readUInt32BE(i + 4);
    const data = buf.slice(i + 8, i + 8 + size).toString();
    if (buf[i] === 1) out.stdout += data;
    else if (buf[i] === 2) out.stderr += data;
    i += 8 + size;
  }
  return out;
}

function collect(stream) {
  return new Promise((resolve, reject) => {
    const out = new PassThrough(), err = new PassThrough();
    let o = '', e = '';
    out.on('data', (d) => { o += d; });
    err.on('data', (d) => { e += d; });
    docker.modem.demuxStream(stream, out, err);
    stream.on('end', () => resolve({ stdout: o, stderr: e }));
    stream.on('error', reject);
  });
}

async function step(name, fn) {
  await fn();
  console.log('ok ' + name);
}

async function main() {
  const [key, value] = LABEL.split('=');
  await step('ping', async () => assert.strictEqual((await docker.ping()).toString(), 'OK'));
  await step('version', async () => assert.ok((await docker.version()).ApiVersion));
  await step('images', async () => {
    const imgs = await docker.listImages();
    assert.ok(imgs.some((i) => (i.RepoTags || []).includes('busybox:latest')));
  });

  await step('run to exit, logs', async () => {
    const c = await docker.createContainer({
      Image: 'busybox:latest', Cmd: ['sh', '-c', 'echo out; echo err >&2; exit 3'], Labels: { [key]: value },
    });
    await c.start();
    const w = await c.wait();
    assert.strictEqual(w.StatusCode, 3);
    const logs = frames(await c.logs({ stdout: true, stderr: true }));
    assert.deepStrictEqual(logs, { stdout: 'out\n', stderr: 'err\n' });
    const info = await c.inspect();
    assert.strictEqual(info.State.ExitCode, 3);
    await c.remove();
  });

  const c = await docker.createContainer({ Image: 'busybox:latest', Cmd: ['sleep', '300'], Labels: { [key]: value } });
  await c.start();
  try {
    await step('exec with hijack', async () => {
      const e = await c.exec({ Cmd: ['sh', '-c', 'cat; echo exec-err >&2; exit 5'], AttachStdin: true,
                               AttachStdout: true, AttachStderr: true });
      const stream = await e.start({ hijack: true, stdin: true });
      const done = collect(stream);
      stream.end('from-stdin\n');
      const out = await done;
      assert.deepStrictEqual(out, { stdout: 'from-stdin\n', stderr: 'exec-err\n' });
      const ei = await e.inspect();
      assert.strictEqual(ei.ExitCode, 5);
      assert.strictEqual(ei.Running, false);
    });
    await step('exec without hijack', async () => {
      const e = await c.exec({ Cmd: ['echo', 'plain'], AttachStdout: true, AttachStderr: true });
      const stream = await e.start({ hijack: false });
      const out = await collect(stream);
      assert.strictEqual(out.stdout, 'plain\n');
    });
    await step('top', async () => {
      const t = await c.top();
      assert.ok(t.Titles.includes('PID'));
      assert.ok(t.Processes.some((p) => p[p.length - 1] === 'sleep 300'));
    });
    await step('stats', async () => {
      const s = await c.stats({ stream: false });
      assert.strictEqual(s.id, c.id);
      assert.ok(s.memory_stats.usage > 0);
    });
    await step('pause, unpause', async () => {
      await c.pause();
      assert.strictEqual((await c.inspect()).State.Status, 'paused');
      await c.unpause();
      assert.strictEqual((await c.inspect()).State.Status, 'running');
    });
    await step('list with a label filter', async () => {
      const l = await docker.listContainers({ filters: { label: [LABEL] } });
      assert.deepStrictEqual(l.map((x) => x.Id), [c.id]);
    });
  } finally {
    await c.remove({ force: true });
  }
  await step('removed', async () => {
    const l = await docker.listContainers({ all: true, filters: { label: [LABEL] } });
    assert.strictEqual(l.length, 0);
  });
}

main().catch((e) => {
  console.error('FAILED: ' + (e && e.stack ? e.stack : e));
  process.exit(1);
});
