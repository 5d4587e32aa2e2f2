import { ObjectId } from 'mongodb';
import type { GroupDoc } from '../../server/groups/group.repository.js';
import {
  attachmentSource,
  MAX_ATTACHMENTS,
  readAttachments,
  renderAttachments,
} from '../../server/federation/post.attachments.js';

/** docs/adr/0029-attachments-across-nodes.md: what a post's `attachment` says, and where its bytes are read. */
describe('post attachments across nodes', () => {
  it('reads files (Document, Image, Video, Audio with an http(s) url), once each; links and other schemes are not files', () => {
    const read = readAttachments([
      {
        type: 'Document',
        mediaType: 'text/csv',
        name: 'survey.csv',
        url: 'https://b.example/ap/files/1',
        size: 12,
      },
      { type: 'Image', url: { type: 'Link', href: 'https://b.example/media/cat.png' } },
      { type: 'Document', url: 'https://b.example/ap/files/1', name: 'again' },
      { type: 'Link', href: 'https://lemmy.example/pictrs/image/x.jpg' },
      { type: 'PropertyValue', name: 'Department', value: 'Transport' },
      { type: 'Document', url: 'file:///etc/passwd' },
      { type: 'Document', url: 'javascript:alert(1)' },
      { type: 'Document', url: 'https://b.example/ap/files/2', size: -5, name: '' },
      'https://b.example/bare-string',
    ]);
    expect(read).toEqual([
      { url: 'https://b.example/ap/files/1', name: 'survey.csv', mediaType: 'text/csv', size: 12 },
      { url: 'https://b.example/media/cat.png', name: null, mediaType: null, size: null },
      { url: 'https://b.example/ap/files/2', name: null, mediaType: null, size: null },
    ]);
    expect(readAttachments(undefined)).toEqual([]);
    const many = Array.from({ length: 50 }, (_, i) => ({
      type: 'Document',
      url: `https://b.example/f/${i}`,
    }));
    expect(readAttachments(many)).toHaveLength(MAX_ATTACHMENTS);
  });

  it('renders its own files at /ap/files/<id> and copies at their origin’s url, with type, name and size', () => {
    const own = new ObjectId();
    expect(
      renderAttachments(
        [
          { fileId: own, name: 'brief.pdf', size: 42, contentType: 'application/pdf' },
          {
            fileId: new ObjectId(),
            name: 'survey.csv',
            size: 7,
            contentType: 'text/csv',
            origin: 'https://b.example/ap/files/1',
          },
        ],
        'https://a.example',
      ),
    ).toEqual([
      {
        type: 'Document',
        mediaType: 'application/pdf',
        name: 'brief.pdf',
        url: `https://a.example/ap/files/${own.toHexString()}`,
        size: 42,
      },
      {
        type: 'Document',
        mediaType: 'text/csv',
        name: 'survey.csv',
        url: 'https://b.example/ap/files/1',
        size: 7,
      },
    ]);
  });

  it('reads bytes on the post’s own origin only; a members-only group elsewhere lends its copy of a third node’s file', () => {
    const group = (visibility: 'public' | 'members', iri?: string) =>
      ({ visibility, ...(iri ? { origin: { iri } } : {}) }) as unknown as GroupDoc;
    const post = 'https://b.example/ap/replies/1';
    const file = 'https://b.example/ap/files/9';
    expect(attachmentSource('https://internal.example/secret', post, group('public'))).toEqual({
      refused: "it is not on the post's own node",
    });
    expect(attachmentSource('http://b.example/ap/files/9', post, group('public'))).toHaveProperty('refused');
    expect(attachmentSource(file, post, group('public', 'https://a.example/ap/a/g.lab'))).toEqual({
      url: file,
    });
    expect(attachmentSource(file, post, group('members'))).toEqual({ url: file });
    expect(attachmentSource(file, post, group('members', 'https://a.example/ap/a/g.council'))).toEqual({
      url: `https://a.example/ap/files?url=${encodeURIComponent(file)}`,
    });
    // The group's own node's posts: read from it directly.
    expect(
      attachmentSource(
        'https://a.example/ap/files/3',
        'https://a.example/ap/threads/1',
        group('members', 'https://a.example/ap/a/g.council'),
      ),
    ).toEqual({ url: 'https://a.example/ap/files/3' });
  });
});
