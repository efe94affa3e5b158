/**
 * Video delivery (issue 18 item 5): a <video> element in Chromium plays a public object of a
 * Trellis bucket. The clip is a WebM that Chromium itself records (MediaRecorder on a canvas), so
 * the test needs no encoder. The video loads through a recording proxy in front of Trellis, which
 * sees what Trellis answered: Range requests answered 206 with a Content-Range, and the element's
 * currentTime advances.
 */
import fs from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startTestServer, supabaseClient, type TestServer } from '../../helpers/server.js';

const CHROMIUM = '/usr/bin/chromium';
const available = await fs.access(CHROMIUM).then(
  () => true,
  () => false,
);
if (!available) {
  if (process.env.CI === 'true') throw new Error(`${CHROMIUM} is missing: .ci/run installs Debian's chromium`);
  console.log(`skipping the video test: ${CHROMIUM} is not installed (apt-get install chromium)`);
}

interface Seen {
  readonly range: string | undefined;
  readonly status: number;
  readonly contentRange: string | undefined;
}

describe.skipIf(!available)('a <video> element plays a public object with Range', () => {
  let server: TestServer;
  let proxy: http.Server;
  let proxyUrl: string;
  let browser: Browser;
  let page: Page;
  const seen: Seen[] = [];

  beforeAll(async () => {
    server = await startTestServer();
    const upstream = new URL(server.url);
    // What Trellis itself answered, request by request (not what the browser's cache made of it).
    proxy = http.createServer((req, res) => {
      const forward = http.request(
        { host: upstream.hostname, port: upstream.port, path: req.url, method: req.method, headers: req.headers },
        (answer) => {
          seen.push({
            range: req.headers.range,
            status: answer.statusCode ?? 0,
            contentRange: answer.headers['content-range'],
          });
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      forward.on('error', () => res.destroy());
      req.pipe(forward);
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-dev-shm-usage', '--autoplay-policy=no-user-gesture-required'],
    });
    page = await browser.newPage();
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await new Promise((resolve) => proxy?.close(resolve));
    await server?.stop();
  });

  test('the video plays: Range requests answered 206, currentTime advances', async () => {
    // A 3-second WebM (VP8), recorded by Chromium from an animated canvas.
    const clip = await page.evaluate(async () => {
      const canvas = document.createElement('canvas');
      canvas.width = 160;
      canvas.height = 120;
      const ctx = canvas.getContext('2d')!;
      let frame = 0;
      const draw = setInterval(() => {
        ctx.fillStyle = `hsl(${(frame++ * 12) % 360} 80% 50%)`;
        ctx.fillRect(0, 0, 160, 120);
      }, 40);
      const recorder = new MediaRecorder(canvas.captureStream(25), { mimeType: 'video/webm;codecs=vp8' });
      const chunks: Blob[] = [];
      recorder.ondataavailable = (e) => chunks.push(e.data);
      const stopped = new Promise((resolve) => (recorder.onstop = resolve));
      recorder.start(500);
      await new Promise((resolve) => setTimeout(resolve, 3000));
      recorder.stop();
      await stopped;
      clearInterval(draw);
      return Array.from(new Uint8Array(await new Blob(chunks).arrayBuffer()));
    });
    expect(clip.length).toBeGreaterThan(1000);

    const supabase = supabaseClient(server, server.serviceRoleKey);
    expect((await supabase.storage.createBucket('videos', { public: true })).error).toBeNull();
    const uploaded = await supabase.storage
      .from('videos')
      .upload('clip.webm', Buffer.from(clip), { contentType: 'video/webm', cacheControl: '3600' });
    expect(uploaded.error).toBeNull();
    const publicUrl = supabase.storage.from('videos').getPublicUrl('clip.webm').data.publicUrl;
    const src = proxyUrl + new URL(publicUrl).pathname;

    await page.setContent(`<video id="v" muted autoplay playsinline src="${src}"></video>`);
    const played = await page.evaluate(
      () =>
        new Promise<{ time: number; error: string | null }>((resolve) => {
          const video = document.getElementById('v') as HTMLVideoElement;
          const done = () => resolve({ time: video.currentTime, error: video.error?.message ?? null });
          video.addEventListener('error', done);
          void video.play().catch(() => undefined);
          const started = Date.now();
          const poll = setInterval(() => {
            if (video.currentTime > 1 || Date.now() - started > 15_000) {
              clearInterval(poll);
              done();
            }
          }, 50);
        }),
    );
    expect(played.error).toBeNull();
    expect(played.time).toBeGreaterThan(1);

    const ranged = seen.filter((s) => s.range !== undefined);
    expect(ranged.length).toBeGreaterThan(0);
    for (const s of ranged) {
      expect(s.status).toBe(206);
      expect(s.contentRange).toMatch(new RegExp(`^bytes \\d+-\\d+/${clip.length}$`));
    }
  }, 60_000);
});
