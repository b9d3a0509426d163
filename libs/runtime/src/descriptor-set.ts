/**
 * Reads a `google.protobuf.FileDescriptorSet` (as `buf build -o` writes it) just far enough to
 * pick files and their imports: reflection then serves each file under its real name with its real
 * dependencies, which `buf curl` and `grpcurl` need to resolve a schema.
 */

interface FileEntry {
  bytes: Uint8Array;
  dependencies: string[];
}

/** The encoded FileDescriptorProtos of `files` and everything they import, imports first. */
export function selectDescriptorFiles(descriptorSet: Uint8Array, files: readonly string[]): Uint8Array[] {
  const entries = new Map<string, FileEntry>();
  for (const bytes of fieldsOf(descriptorSet, 1)) {
    let name = '';
    const dependencies: string[] = [];
    for (const [field, value] of stringFields(bytes)) {
      if (field === 1) name = value;
      else if (field === 3) dependencies.push(value);
    }
    entries.set(name, { bytes, dependencies });
  }
  const selected: Uint8Array[] = [];
  const seen = new Set<string>();
  const visit = (name: string): void => {
    if (seen.has(name)) return;
    seen.add(name);
    const entry = entries.get(name);
    if (!entry) throw new TypeError(`protoFiles.descriptorSet: it holds no file named "${name}"`);
    entry.dependencies.forEach(visit);
    selected.push(entry.bytes);
  };
  files.forEach(visit);
  return selected;
}

/** The length-delimited values of field `wanted` at the top level of `message`. */
function* fieldsOf(message: Uint8Array, wanted: number): Generator<Uint8Array> {
  for (const [field, value] of lengthDelimited(message)) if (field === wanted) yield value;
}

function* stringFields(message: Uint8Array): Generator<[number, string]> {
  const decoder = new TextDecoder();
  for (const [field, value] of lengthDelimited(message)) {
    if (field === 1 || field === 3) yield [field, decoder.decode(value)];
  }
}

/** Walks a message's top-level fields, yielding the length-delimited ones and skipping the rest. */
function* lengthDelimited(message: Uint8Array): Generator<[number, Uint8Array]> {
  let pos = 0;
  const varint = (): number => {
    let result = 0;
    let shift = 0;
    for (;;) {
      if (pos >= message.length) throw new TypeError('protoFiles.descriptorSet: truncated message');
      const byte = message[pos++]!;
      result += (byte & 0x7f) * 2 ** shift;
      if (byte < 0x80) return result;
      shift += 7;
    }
  };
  while (pos < message.length) {
    const tag = varint();
    const wireType = tag & 7;
    const field = Math.floor(tag / 8);
    if (wireType === 2) {
      const length = varint();
      yield [field, message.subarray(pos, pos + length)];
      pos += length;
    } else if (wireType === 0) varint();
    else if (wireType === 1) pos += 8;
    else if (wireType === 5) pos += 4;
    else throw new TypeError(`protoFiles.descriptorSet: unsupported wire type ${wireType}`);
  }
}
