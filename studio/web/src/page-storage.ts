/** Storage: buckets, their objects, upload, download, signed URLs, image preview. */
import { api } from './api.js';
import { errorBox, h, replace } from './dom.js';

interface Bucket {
  id: string;
  name: string;
  public: boolean;
}
interface StoredObject {
  name: string;
  id: string | null;
  metadata: { size?: number; mimetype?: string } | null;
}

export function storagePage(root: HTMLElement): void {
  const buckets = h('div', { id: 'buckets' });
  const objects = h('div', { id: 'objects' });
  const message = h('div', {});
  const preview = h('div', { id: 'preview' });
  let current: string | undefined;
  const loadBuckets = async () => {
    try {
      const list = await api<Bucket[]>('GET', '/storage/buckets');
      replace(
        buckets,
        ...list.map((b) =>
          h(
            'button',
            {
              className: b.id === current ? '' : 'plain',
              onclick: () => ((current = b.id), void loadBuckets(), void loadObjects()),
            },
            `${b.name}${b.public ? ' (public)' : ''}`,
          ),
        ),
      );
    } catch (err) {
      replace(buckets, errorBox(err));
    }
  };
  const bucketPath = () => `/storage/buckets/${encodeURIComponent(current ?? '')}`;
  const loadObjects = async () => {
    if (!current) return replace(objects, h('p', { className: 'muted' }, 'Pick a bucket.'));
    const file = h('input', { type: 'file', id: 'upload-file' });
    try {
      const list = await api<StoredObject[]>('GET', `${bucketPath()}/objects`);
      replace(
        objects,
        h(
          'div',
          { className: 'row' },
          file,
          h(
            'button',
            {
              id: 'upload',
              onclick: async () => {
                const chosen = file.files?.[0];
                if (!chosen) return;
                try {
                  await api(
                    'POST',
                    `${bucketPath()}/objects?path=${encodeURIComponent(chosen.name)}`,
                    undefined,
                    chosen,
                  );
                  replace(message, h('div', { className: 'muted', id: 'uploaded' }, `Uploaded ${chosen.name}.`));
                  await loadObjects();
                } catch (err) {
                  replace(message, errorBox(err));
                }
              },
            },
            'Upload',
          ),
        ),
        h(
          'table',
          { id: 'object-list' },
          h('tr', {}, h('th', {}, 'name'), h('th', {}, 'size'), h('th', {}, 'type'), h('th', {}, '')),
          ...list.map((o) => {
            const download = `/studio/api${bucketPath()}/download?path=${encodeURIComponent(o.name)}`;
            return h(
              'tr',
              {},
              h('td', {}, o.name),
              h('td', {}, o.metadata?.size ?? ''),
              h('td', {}, o.metadata?.mimetype ?? (o.id ? '' : 'folder')),
              h(
                'td',
                {},
                o.id ? h('a', { href: download, download: o.name }, 'Download') : null,
                o.id && o.metadata?.mimetype?.startsWith('image/')
                  ? h(
                      'button',
                      {
                        className: 'plain',
                        onclick: () => replace(preview, h('img', { src: download, style: 'max-width:320px' })),
                      },
                      'Preview',
                    )
                  : null,
                o.id
                  ? h(
                      'button',
                      {
                        className: 'plain',
                        onclick: async () => {
                          const { signedUrl } = await api<{ signedUrl: string }>('POST', `${bucketPath()}/sign`, {
                            path: o.name,
                            expiresIn: 3600,
                          });
                          replace(
                            message,
                            h(
                              'div',
                              { className: 'muted' },
                              'Signed URL (1 hour): ',
                              h('a', { href: signedUrl, id: 'signed-url' }, signedUrl),
                            ),
                          );
                        },
                      },
                      'Signed URL',
                    )
                  : null,
              ),
            );
          }),
        ),
      );
    } catch (err) {
      replace(objects, errorBox(err));
    }
  };
  const name = h('input', { id: 'bucket-name', placeholder: 'new bucket' });
  const isPublic = h('input', { type: 'checkbox' });
  replace(
    root,
    h('h2', {}, 'Storage'),
    h(
      'div',
      { className: 'row' },
      name,
      h('label', {}, isPublic, ' public'),
      h(
        'button',
        {
          id: 'create-bucket',
          onclick: async () => {
            try {
              await api('POST', '/storage/buckets', { name: name.value, public: isPublic.checked });
              current = name.value;
              await loadBuckets();
              await loadObjects();
            } catch (err) {
              replace(message, errorBox(err));
            }
          },
        },
        'Create bucket',
      ),
    ),
    buckets,
    message,
    objects,
    preview,
  );
  void loadBuckets().then(loadObjects);
}
