/** The restored project's secrets (the database password opens the restored cluster). */
import { FatalError } from '../errors.js';
import { readSecrets, type StoredSecrets } from '../project/secrets.js';

export async function readSecretsOf(dataDir: string): Promise<StoredSecrets> {
  const secrets = await readSecrets(dataDir);
  if (!secrets) throw new FatalError(`the backup holds no .trellis/secrets.json: its database password is unknown`);
  return secrets;
}
