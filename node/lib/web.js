// Express and Fastify handlers for branches: the branch parsed from the query, the
// handler's result or error turned into dtm's reply.
'use strict';

const { Branch, reply } = require('./branch');

async function outcome(handler, req, branch) {
  try {
    return reply(null, await handler(req, branch));
  } catch (e) {
    return reply(e);
  }
}

/** An Express handler: `handler(req, branch)` may return a value (sent as JSON) or throw. */
function expressBranch(handler) {
  return (req, res) => {
    outcome(handler, req, Branch.fromQueryPairs(req.query)).then((r) => {
      res.status(r.status).type('application/json').send(r.body);
    });
  };
}

/** A Fastify handler: `handler(request, branch)` may return a value (sent as JSON) or throw. */
function fastifyBranch(handler) {
  return async (request, fastifyReply) => {
    const r = await outcome(handler, request, Branch.fromQueryPairs(request.query));
    fastifyReply.code(r.status).type('application/json');
    return r.body;
  };
}

module.exports = { express: { branch: expressBranch }, fastify: { branch: fastifyBranch } };
