// Starts kinesalite like its cli.js, but keeps the server alive when a client
// aborts a request. kinesalite's request handler rethrows the request's
// 'error' event (`req.on('error', function(err) { throw err })`), so one
// cancelled HTTP call ("Error: aborted", ECONNRESET) kills the whole process;
// real Kinesis carries on, and so must the server our tests run against.
// Any other uncaught error still ends the process, loudly.
//
// usage: node kinesalite.js <kinesalite package folder> [kinesalite flags]
'use strict'
const moduleDir = process.argv[2]
if (!moduleDir) {
  console.error('usage: node kinesalite.js <kinesalite package folder> [--port N ...]')
  process.exit(2)
}
const argv = require(require.resolve('minimist', { paths: [moduleDir] }))(process.argv.slice(3))

let aborted = 0
process.on('uncaughtException', (err) => {
  if (err && (err.code === 'ECONNRESET' || err.message === 'aborted')) {
    aborted++
    console.error(`kinesalite wrapper: a client aborted a request (${err.message}); ${aborted} so far, still serving`)
    return
  }
  console.error('kinesalite wrapper: uncaught error, exiting:', err)
  process.exit(1)
})

const server = require(moduleDir)(argv).listen(argv.port || 4567, argv.host || '127.0.0.1', () => {
  const a = server.address()
  console.log(`Listening at http://${a.address}:${a.port}`)
})
