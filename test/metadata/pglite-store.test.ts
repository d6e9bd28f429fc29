import { metadataContract } from './store-contract';
import { openTestPglite } from '../helpers/metadata';

describe('PGlite metadata store', () => {
  metadataContract(openTestPglite);
});
