/**
 * RFC 7662 token introspection: the token's metadata when it would validate now (signature, expiry,
 * revocation, live task, budget left), otherwise only `{ active: false }` — never why, so introspection
 * cannot be used to probe what exactly is wrong with a stolen token. It never spends a use.
 */
import type { TaskService } from '../tasks/task-service.js';
import type { TaskTokenClaims } from '../tokens/claims.js';
import type { TokenValidator } from '../tokens/validate.js';

export async function introspectToken(
  token: string,
  validator: Pick<TokenValidator, 'verify'>,
  tasks: Pick<TaskService, 'get'>,
): Promise<Record<string, unknown>> {
  let claims: TaskTokenClaims;
  try {
    claims = await validator.verify(token);
  } catch {
    return { active: false };
  }
  const task = await tasks.get(claims.task).catch(() => undefined);
  if (!task || task.status !== 'active' || task.uses >= task.max_uses) return { active: false };
  return {
    active: true,
    token_type: claims.cnf ? 'DPoP' : 'Bearer',
    iss: claims.iss,
    sub: claims.sub,
    aud: claims.aud,
    exp: claims.exp,
    iat: claims.iat,
    jti: claims.jti,
    client_id: claims.client_id,
    task: claims.task,
    authorization_details: claims.authorization_details,
    ...(claims.cnf ? { cnf: claims.cnf } : {}),
    ...(claims.act ? { act: claims.act } : {}),
    uses_left: task.max_uses - task.uses,
  };
}
