// The JSON API of `etude serve` (README, "The JSON API"): fetch with one clear error message.
export class ApiError extends Error {
  constructor(message, status) { super(message); this.status = status; }
}

export async function api(path, options = {}) {
  let res;
  try {
    res = await fetch(path, options);
  } catch (e) {
    throw new ApiError('The server does not answer: is `etude serve` still running?', 0);
  }
  const type = res.headers.get('content-type') || '';
  let body = null;
  if (type.includes('application/json')) body = await res.json().catch(() => null);
  if (!res.ok) {
    let msg = body && body.error ? body.error : `The server answered ${res.status} ${res.statusText}.`;
    if (res.status === 413 && !(body && body.error)) msg = 'The upload is too large (at most 64 files, 2 MiB each, 32 MiB in all; a primer at most 1 MiB).';
    if (res.status === 503) {
      const after = res.headers.get('retry-after');
      msg += ` The server is busy${after ? `: try again in ${after} s` : ''}.`;
    }
    throw new ApiError(msg, res.status);
  }
  return body;
}
export const postJson = (path, obj) =>
  api(path, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(obj) });
export const postForm = (path, form) => api(path, { method: 'POST', body: form });
