/** @aimaas/inference: the inference service. Its handlers arrive with the inference issue; see src/main.ts. */
export {};
