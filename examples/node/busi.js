// The business service of the quick start (Express): TransOut and TransIn move money,
// TransOutRevert and TransInRevert undo those moves. A step answers 409 FAILURE by
// throwing dtmx.FailureError; dtmx.express.branch turns that into the reply DTM expects.
//
// Run it alone with:  node -e "require('./busi').app.listen(8081)"
'use strict';

const express = require('express');
const dtmx = require('dtmx');

/** What the service did, in order: [gid, step]. */
const journal = [];

const app = express();
app.use(express.json());

for (const name of ['TransOut', 'TransOutRevert', 'TransIn', 'TransInRevert']) {
  app.post(
    `/api/busi/${name}`,
    dtmx.express.branch(async (req, branch) => {
      console.log(`  busi: ${name.padEnd(15)} gid=${branch.gid} op=${branch.op} body=${JSON.stringify(req.body)}`);
      journal.push([branch.gid, name]);
      if (req.body.refuse === name) throw new dtmx.FailureError(`${name} refused`);
    }),
  );
}

module.exports = { app, journal };
