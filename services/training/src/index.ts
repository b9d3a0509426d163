/** @aimaas/training: the training service. Its handlers arrive with the training issue; see src/main.ts. */
export {};
