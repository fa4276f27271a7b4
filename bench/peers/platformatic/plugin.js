'use strict'

// W5 on the peer: POST /func/order_status {"p_id": N} calls the SQL function through
// Platformatic's db/sql API and answers its value as a JSON string, as the gateway does.
module.exports = async function orderStatus (app) {
  const { db, sql } = app.platformatic
  const body = {
    type: 'object',
    required: ['p_id'],
    properties: { p_id: { type: 'integer' } }
  }
  app.post('/func/order_status', { schema: { body } }, async (request, reply) => {
    const rows = await db.query(sql`SELECT bench_order_status(${request.body.p_id}) AS status`)
    reply.type('application/json')
    return JSON.stringify(rows[0].status)
  })
}
