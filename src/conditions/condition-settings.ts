/** How the per-request part of the condition context is filled (see `requestConditionsOf`). */
export interface ConditionSettings {
  /** IANA time zone of `request.weekday` and `request.hour`. @default 'UTC' */
  readonly timeZone: string;
  /** Request headers conditions may read as `request.headers`, lower-case. @default [] */
  readonly headers: readonly string[];
}

export const DEFAULT_CONDITION_SETTINGS: ConditionSettings = { timeZone: 'UTC', headers: [] };
