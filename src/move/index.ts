/** `trellis move`'s services: a project's database (and storage objects) from one server to another. */
export { moveDatabase, type Endpoint, type MoveReporter, type MoveRequest, type MoveResult } from './move.js';
export { finishFollow, type FinishRequest } from './finish.js';
export { copyObjectsToS3, type StorageCopy } from './storage.js';
export { parseS3Target, parseServerUrl, type S3Target } from './plan.js';
export { describeDigests } from './report.js';
