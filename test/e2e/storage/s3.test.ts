import { describe } from 'vitest';
import { s3Backend } from '../../helpers/storage.js';
import { storageSuite } from './suite.js';

describe('storage on an S3-protocol server (s3rver on loopback)', () => storageSuite(s3Backend));
