/**
 * The little XML the S3 protocol needs (pure): answers built from element trees, and the two
 * request bodies it reads (CompleteMultipartUpload, Delete) taken apart by their few elements.
 */

export type XmlValue = string | number | boolean | Date | XmlTree | XmlTree[] | undefined | null;
export interface XmlTree {
  readonly [element: string]: XmlValue | XmlValue[];
}

export function xmlEscape(text: string): string {
  // Characters XML 1.0 cannot carry at all are dropped (a key may hold them: S3 encodes with encoding-type=url).
  return text
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g, '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

function render(name: string, value: XmlValue | XmlValue[]): string {
  if (value === undefined || value === null) return '';
  if (Array.isArray(value)) return value.map((v) => render(name, v)).join('');
  if (value instanceof Date) return `<${name}>${value.toISOString()}</${name}>`;
  if (typeof value === 'object')
    return `<${name}>${Object.entries(value)
      .map(([k, v]) => render(k, v))
      .join('')}</${name}>`;
  return `<${name}>${xmlEscape(String(value))}</${name}>`;
}

/** A whole answer: the declaration and one root element in S3's namespace. */
export function xmlDocument(root: string, body: XmlTree): string {
  const inner = Object.entries(body)
    .map(([k, v]) => render(k, v))
    .join('');
  return `<?xml version="1.0" encoding="UTF-8"?>\n<${root} xmlns="http://s3.amazonaws.com/doc/2006-03-01/">${inner}</${root}>`;
}

function unescape(text: string): string {
  return text.replace(/&(lt|gt|amp|quot|apos|#x[0-9a-fA-F]+|#\d+);/g, (_m, ref: string) => {
    if (ref === 'lt') return '<';
    if (ref === 'gt') return '>';
    if (ref === 'amp') return '&';
    if (ref === 'quot') return '"';
    if (ref === 'apos') return "'";
    const code = ref.startsWith('#x') ? parseInt(ref.slice(2), 16) : parseInt(ref.slice(1), 10);
    return code <= 0x10ffff ? String.fromCodePoint(code) : '';
  });
}

/** The text of every `<element>` directly in `xml` (no attributes on these elements in S3's bodies). */
export function elements(xml: string, element: string): string[] {
  const found: string[] = [];
  const pattern = new RegExp(`<${element}(?:\\s[^>]*)?>([\\s\\S]*?)</${element}>`, 'g');
  for (const match of xml.matchAll(pattern)) found.push(match[1] ?? '');
  return found;
}

export function elementText(xml: string, element: string): string | undefined {
  const [first] = elements(xml, element);
  return first === undefined ? undefined : unescape(first);
}

/** A body that is not an XML document at all is refused before its elements are read. */
export function looksLikeXml(xml: string, root: string): boolean {
  return new RegExp(`^\\s*(<\\?xml[^>]*\\?>\\s*)?<${root}[\\s>]`).test(xml) && xml.trimEnd().endsWith(`</${root}>`);
}

/** CompleteMultipartUpload's parts: number and ETag, in the order sent. */
export function parseCompleteBody(xml: string): { partNumber: number; etag: string }[] | undefined {
  if (!looksLikeXml(xml, 'CompleteMultipartUpload')) return undefined;
  const parts: { partNumber: number; etag: string }[] = [];
  for (const part of elements(xml, 'Part')) {
    const number = elementText(part, 'PartNumber')?.trim();
    const etag = elementText(part, 'ETag');
    if (number === undefined || !/^\d{1,5}$/.test(number) || etag === undefined) return undefined;
    parts.push({ partNumber: Number(number), etag: etag.replace(/"/g, '') });
  }
  return parts;
}

/** DeleteObjects' keys and whether the answer is quiet. */
export function parseDeleteBody(xml: string): { keys: string[]; quiet: boolean } | undefined {
  if (!looksLikeXml(xml, 'Delete')) return undefined;
  const keys: string[] = [];
  for (const object of elements(xml, 'Object')) {
    const key = elementText(object, 'Key');
    if (key === undefined) return undefined;
    keys.push(key);
  }
  return { keys, quiet: elementText(xml, 'Quiet')?.trim() === 'true' };
}
