/** @aimaas/compression: the compression service. Its handlers arrive with the compression issue; see src/main.ts. */
export {};
