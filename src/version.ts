/** The release version, reported by `/openapi.json`, `bulkhead --version` and the landing page. */
export const VERSION = '0.1.0';
