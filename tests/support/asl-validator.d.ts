declare module "asl-validator" {
  interface AslValidationError {
    "Error code": string;
    Message: string;
  }
  /** Validates an Amazon States Language definition. */
  function validator(
    definition: unknown,
    options?: { checkPaths?: boolean; checkArn?: boolean },
  ): { isValid: boolean; errors: AslValidationError[] };
  export = validator;
}
