// Writes FILE.gz beside each FILE (level 9; the same bytes for the same input), for the server to
// send to browsers that accept gzip.
import { gzipSync } from 'node:zlib';
import { readFileSync, writeFileSync } from 'node:fs';
for (const file of process.argv.slice(2)) {
  writeFileSync(`${file}.gz`, gzipSync(readFileSync(file), { level: 9 }));
}
