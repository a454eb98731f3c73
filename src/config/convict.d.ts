// The part of convict 6 Petrel uses; the package ships no types.
declare module 'convict' {
  interface ConvictConfig<T> {
    load(values: unknown): ConvictConfig<T>;
    validate(options?: { allowed?: 'warn' | 'strict'; output?: (message: string) => void }): ConvictConfig<T>;
    getProperties(): T;
  }
  interface ConvictFormat {
    name: string;
    validate: (value: unknown, schema: unknown) => void;
    coerce?: (value: unknown) => unknown;
  }
  interface Convict {
    <T>(
      schema: object,
      options?: { env?: Record<string, string | undefined>; args?: string[] },
    ): ConvictConfig<T>;
    addFormat(format: ConvictFormat): void;
  }
  const convict: Convict;
  export default convict;
}
