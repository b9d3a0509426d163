/**
 * Picks files and their imports out of a `google.protobuf.FileDescriptorSet` (as `buf build -o`
 * writes it): reflection then serves each file under its real name with its real dependencies,
 * which `buf curl` and `grpcurl` need to resolve a schema. Decoded with `@bufbuild/protobuf`.
 */
import { fromBinary, toBinary } from '@bufbuild/protobuf';
import { FileDescriptorProtoSchema, FileDescriptorSetSchema, type FileDescriptorProto } from '@bufbuild/protobuf/wkt';

/** The encoded FileDescriptorProtos of `files` and everything they import, imports first. */
export function selectDescriptorFiles(descriptorSet: Uint8Array, files: readonly string[]): Uint8Array[] {
  const entries = new Map<string, FileDescriptorProto>();
  for (const file of fromBinary(FileDescriptorSetSchema, descriptorSet).file) entries.set(file.name, file);
  const selected: Uint8Array[] = [];
  const seen = new Set<string>();
  const visit = (name: string): void => {
    if (seen.has(name)) return;
    seen.add(name);
    const entry = entries.get(name);
    if (!entry) throw new TypeError(`protoFiles.descriptorSet: it holds no file named "${name}"`);
    entry.dependency.forEach(visit);
    selected.push(toBinary(FileDescriptorProtoSchema, entry));
  };
  files.forEach(visit);
  return selected;
}
