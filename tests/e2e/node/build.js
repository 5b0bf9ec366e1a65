// dockerode's buildImage against berthd: a context directory sent as a tar, the build's
// messages followed to the end, the image run. Usage: node build.js SOCKET CONTEXT TAG
'use strict';
const assert = require('assert');
const Docker = require('dockerode');

const docker = new Docker({ socketPath: process.argv[2] });

async function main() {
  const [ctx, tag] = [process.argv[3], process.argv[4]];
  const stream = await docker.buildImage({ context: ctx, src: ['Dockerfile', 'hello.txt'] },
                                         { t: tag, buildargs: { WHO: 'dockerode' } });
  const msgs = await new Promise((resolve, reject) =>
    docker.modem.followProgress(stream, (err, res) => (err ? reject(err) : resolve(res))));
  const aux = msgs.filter((m) => m.aux && m.aux.ID);
  assert.ok(aux.length >= 1, JSON.stringify(msgs));
  assert.ok(msgs.some((m) => m.stream === 'Successfully tagged ' + tag + ':latest\n'), JSON.stringify(msgs));
  const img = await docker.getImage(tag).inspect();
  assert.strictEqual(img.Id, aux[aux.length - 1].aux.ID);
  assert.deepStrictEqual(img.Config.Cmd, ['cat', '/hello.txt']);
  console.log('ok built ' + img.Id);
}

main().catch((e) => { console.error(e); process.exit(1); });
