import { MemoryStore } from "toolgate";
import { describeStoreConformance } from "toolgate/vitest";

describeStoreConformance("MemoryStore", () => new MemoryStore());
describeStoreConformance("MemoryStore with a small maxKeys", () => new MemoryStore({ maxKeys: 200 }), {
  concurrency: 100,
});
