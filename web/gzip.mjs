// Writes FILE.gz beside FILE (level 9; the same bytes for the same input), for the server to
// send to browsers that accept gzip.
import { gzipSync } from 'node:zlib';
import { readFileSync, writeFileSync } from 'node:fs';
const file = process.argv[2];
writeFileSync(`${file}.gz`, gzipSync(readFileSync(file), { level: 9 }));
