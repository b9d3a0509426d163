/** @aimaas/preprocessing: the preprocessing service. Its handlers arrive with the preprocessing issue; see src/main.ts. */
export {};
