/** Storage: buckets, their objects, upload, download, signed URLs, image preview. */
import { useRef, useState } from 'preact/hooks';
import { api, attempt } from '../api.js';
import { Button } from '../components/Button.js';
import { DataTable, type Column } from '../components/DataTable.js';
import { Checkbox, TextField, Toolbar } from '../components/Field.js';
import { Modal } from '../components/Modal.js';
import { Await, useToast } from '../components/Notice.js';
import { useLoad } from '../hooks.js';
import type { Bucket, StoredObject } from '../types.js';

export function StoragePage() {
  const toast = useToast();
  const [current, setCurrent] = useState<string | undefined>(undefined);
  const [name, setName] = useState('');
  const [isPublic, setPublic] = useState(false);
  const [buckets, reloadBuckets] = useLoad(() => api<Bucket[]>('GET', '/storage/buckets'), []);
  const create = async () => {
    const outcome = await attempt(() => api('POST', '/storage/buckets', { name, public: isPublic }));
    if (!outcome.ok) return toast.failed(outcome.error);
    setCurrent(name);
    await reloadBuckets();
  };
  return (
    <>
      <h2>Storage</h2>
      <Toolbar>
        <TextField id="bucket-name" placeholder="new bucket" value={name} onValue={setName} />
        <Checkbox checked={isPublic} onChecked={setPublic} label="public" />
        <Button id="create-bucket" onClick={() => void create()}>
          Create bucket
        </Button>
      </Toolbar>
      <div id="buckets" class="row">
        <Await value={buckets}>
          {(list) =>
            list.length === 0 ? (
              <span class="muted">No buckets yet.</span>
            ) : (
              list.map((b) => (
                <Button
                  key={b.id}
                  variant={b.id === current ? 'primary' : 'plain'}
                  aria-pressed={b.id === current}
                  onClick={() => setCurrent(b.id)}
                >
                  {b.name}
                  {b.public ? ' (public)' : ''}
                </Button>
              ))
            )
          }
        </Await>
      </div>
      <div id="objects">
        {current ? <Objects key={current} bucket={current} /> : <p class="muted">Pick a bucket.</p>}
      </div>
    </>
  );
}

function Objects({ bucket }: { bucket: string }) {
  const toast = useToast();
  const path = `/storage/buckets/${encodeURIComponent(bucket)}`;
  const file = useRef<HTMLInputElement>(null);
  const [busy, setBusy] = useState(false);
  const [preview, setPreview] = useState<string | undefined>(undefined);
  const [signed, setSigned] = useState<string | undefined>(undefined);
  const [objects, reload] = useLoad(() => api<StoredObject[]>('GET', `${path}/objects`), [path]);
  const download = (o: StoredObject) => `/studio/api${path}/download?path=${encodeURIComponent(o.name)}`;

  const upload = async () => {
    const chosen = file.current?.files?.[0];
    if (!chosen) return;
    setBusy(true);
    const outcome = await attempt(() =>
      api('POST', `${path}/objects?path=${encodeURIComponent(chosen.name)}`, undefined, chosen),
    );
    setBusy(false);
    if (!outcome.ok) return toast.failed(outcome.error);
    toast.done(`Uploaded ${chosen.name}.`, 'uploaded');
    await reload();
  };
  const sign = async (o: StoredObject) => {
    const outcome = await attempt(() =>
      api<{ signedUrl: string }>('POST', `${path}/sign`, { path: o.name, expiresIn: 3600 }),
    );
    if (!outcome.ok) return toast.failed(outcome.error);
    setSigned(outcome.value.signedUrl);
  };
  const columns: Column<StoredObject>[] = [
    { key: 'name', header: 'name', sortable: true },
    {
      key: 'size',
      header: 'size',
      sortable: true,
      value: (o) => o.metadata?.size ?? '',
      render: (o) => o.metadata?.size ?? '',
    },
    {
      key: 'type',
      header: 'type',
      sortable: true,
      value: (o) => o.metadata?.mimetype ?? (o.id ? '' : 'folder'),
      render: (o) => o.metadata?.mimetype ?? (o.id ? '' : 'folder'),
    },
  ];

  return (
    <>
      <Toolbar>
        <input type="file" id="upload-file" ref={file} />
        <Button id="upload" busy={busy} onClick={() => void upload()}>
          Upload
        </Button>
      </Toolbar>
      <Await value={objects}>
        {(list) => (
          <DataTable
            id="object-list"
            columns={columns}
            rows={list}
            rowKey={(o) => o.name}
            pageSize={100}
            empty="This bucket is empty."
            actions={(o) =>
              o.id && (
                <>
                  <a href={download(o)} download={o.name}>
                    Download
                  </a>
                  {o.metadata?.mimetype?.startsWith('image/') && (
                    <Button variant="plain" onClick={() => setPreview(o.name)}>
                      Preview
                    </Button>
                  )}
                  <Button variant="plain" onClick={() => void sign(o)}>
                    Signed URL
                  </Button>
                </>
              )
            }
          />
        )}
      </Await>
      {preview && (
        <Modal id="preview" title={preview} onClose={() => setPreview(undefined)} wide>
          <img src={`/studio/api${path}/download?path=${encodeURIComponent(preview)}`} alt={preview} class="preview" />
        </Modal>
      )}
      {signed && (
        <Modal id="signed" title="Signed URL (valid 1 hour)" onClose={() => setSigned(undefined)} wide>
          <p class="code">
            <a href={signed} id="signed-url">
              {signed}
            </a>
          </p>
          <Button variant="plain" onClick={() => void navigator.clipboard?.writeText(signed)}>
            Copy
          </Button>
        </Modal>
      )}
    </>
  );
}
