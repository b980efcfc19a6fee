/** The largest device-posture header accepted, in bytes (characters). */
export const MAX_DEVICE_HEADER_BYTES = 4_096;

/**
 * The device posture a trusted proxy sent as a JSON object (`{"managed":true,"os":"macos"}`);
 * `{}` when the value is missing, over `MAX_DEVICE_HEADER_BYTES`, not JSON or not an object.
 */
export function parseDevicePosture(value: string | undefined): Record<string, unknown> {
  if (value === undefined || value === '' || value.length > MAX_DEVICE_HEADER_BYTES) return {};
  try {
    const parsed: unknown = JSON.parse(value);
    return parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)
      ? (parsed as Record<string, unknown>)
      : {};
  } catch {
    return {};
  }
}
