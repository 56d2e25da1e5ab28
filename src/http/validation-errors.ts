import type { FastifyError, FastifyInstance } from 'fastify';
import type { Logger } from '../log.js';

/** What ajv reports per problem (with `verbose`, the schema of the field too). */
interface SchemaProblem {
  instancePath: string;
  keyword: string;
  message?: string;
  params: Record<string, unknown>;
  data?: unknown;
  parentSchema?: { description?: string };
}

const PART: Record<string, string> = { body: 'body', querystring: 'query', params: 'params', headers: 'headers' };

/** A client's value, quoted on one line and short: control characters stay escaped. */
function quote(value: unknown): string {
  if (value === undefined) return 'nothing';
  const shown = JSON.stringify(value) ?? typeof value;
  return shown.length > 60 ? `${shown.slice(0, 57)}...` : shown;
}

/** `body.for: expected a duration like "30s", "5m" or "2h", at most 30d, got "100000000000d"`. */
export function describeProblem(problem: SchemaProblem, part: string): string {
  const path = [PART[part] ?? part, ...problem.instancePath.split('/').filter(Boolean)].join('.');
  if (problem.keyword === 'required') return `${path}.${String(problem.params.missingProperty)}: required`;
  if (problem.keyword === 'additionalProperties') return `${path}.${String(problem.params.additionalProperty)}: unknown field`;
  const expected = problem.parentSchema?.description;
  if (problem.keyword === 'type' && problem.instancePath === '' && part === 'body') return `body: expected a JSON object, got ${quote(problem.data)}`;
  return `${path}: ${expected ? `expected ${expected}` : (problem.message ?? 'invalid')}, got ${quote(problem.data)}`;
}

/** Fastify's hook for schema failures: the first problem, named by its field. */
export function schemaErrorFormatter(errors: readonly unknown[], part: string): Error {
  return new Error(describeProblem(errors[0] as SchemaProblem, part));
}

/**
 * Errors that reach fastify: a client's mistake keeps its status and message
 * (`bad-request` for 400); anything else is a 500 whose detail goes to the
 * log under the request id, never to the client.
 */
export function installErrorHandler(app: FastifyInstance, logger: Logger): void {
  app.setErrorHandler((err: FastifyError, request, reply) => {
    const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    if (status === 500) {
      logger.error({ err, requestId: request.id, method: request.method, url: request.routeOptions.url }, 'request failed');
      return reply.code(500).send({ error: 'internal', message: `internal error; the log has the detail under request id ${request.id}`, requestId: request.id });
    }
    const code = status === 400 ? 'bad-request' : status === 415 ? 'unsupported-media-type' : status === 413 ? 'too-large' : 'error';
    return reply.code(status).send({ error: code, message: err.validation ? err.message : clientMessage(err) });
  });
}

// eslint-disable-next-line no-control-regex -- control characters are what it removes
const CONTROL = /[\u0000-\u001f\u007f]+/g;

/** Fastify's own 4xx messages (a malformed JSON body, ...), on one line. */
function clientMessage(err: FastifyError): string {
  const oneLine = err.message.replace(CONTROL, ' ');
  return err.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || /JSON/.test(err.message) ? `body: not valid JSON (${oneLine.slice(0, 120)})` : oneLine.slice(0, 200);
}
