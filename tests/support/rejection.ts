/**
 * The error a promise rejects with, for assertions on it; fails the test if it resolves.
 */
export async function rejectionOf(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof Error) return error;
    throw new Error(`rejected with a non-Error: ${String(error)}`, { cause: error });
  }
  throw new Error("expected the promise to reject, but it resolved");
}
