import { createPublicKey } from 'node:crypto';
import { base58 } from '@scure/base';

/** The multicodec prefix of an Ed25519 public key (0xed, varint-encoded). */
const ED25519_PUB = [0xed, 0x01];
/** The DER prefix of an Ed25519 SubjectPublicKeyInfo; the 32 key bytes follow. */
const ED25519_SPKI = Buffer.from('302a300506032b6570032100', 'hex');

/**
 * An Ed25519 `Multikey` (FEP-521a, W3C Controlled Identifiers) as a PEM public key, or null when the value is
 * not a base58btc (`z`) multibase Ed25519 key. Fedify and Mitra publish such keys in `assertionMethod`.
 */
export function multikeyToPem(publicKeyMultibase: string): string | null {
  if (!publicKeyMultibase.startsWith('z') || publicKeyMultibase.length > 128) return null;
  let bytes: Uint8Array;
  try {
    bytes = base58.decode(publicKeyMultibase.slice(1));
  } catch {
    return null;
  }
  if (bytes.length !== 34 || bytes[0] !== ED25519_PUB[0] || bytes[1] !== ED25519_PUB[1]) return null;
  const der = Buffer.concat([ED25519_SPKI, Buffer.from(bytes.subarray(2))]);
  return createPublicKey({ key: der, format: 'der', type: 'spki' })
    .export({ type: 'spki', format: 'pem' })
    .toString();
}

/** The `publicKeyMultibase` of an Ed25519 public key (for tests and fixtures). */
export function pemToMultikey(publicKeyPem: string): string {
  const der = createPublicKey(publicKeyPem).export({ type: 'spki', format: 'der' });
  if (!der.subarray(0, ED25519_SPKI.length).equals(ED25519_SPKI)) throw new Error('not an Ed25519 key');
  return `z${base58.encode(Uint8Array.from([...ED25519_PUB, ...der.subarray(ED25519_SPKI.length)]))}`;
}
