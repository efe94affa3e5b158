import { describe } from 'vitest';
import { localBackend } from '../../helpers/storage.js';
import { storageSuite } from './suite.js';

describe('storage on the local disk', () => storageSuite(localBackend));
