// setTimeout, setInterval, clearTimeout, clearInterval, queueMicrotask.
(async (assert) => {
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  // ids and argument passing
  const id1 = setTimeout(() => {}, 1);
  const id2 = setTimeout(() => {}, 1);
  assert.equal(typeof id1, "number", "ids are numbers");
  assert.ok(id1 > 0 && id2 !== id1, "ids are positive and distinct");
  const args = await new Promise((resolve) => setTimeout((...a) => resolve(a), 1, "a", 2, null));
  assert.deepEqual(args, ["a", 2, null], "extra arguments are passed to the callback");
  assert.equal(await new Promise((resolve) => setTimeout(function () { resolve(this); })), globalThis, "this is globalThis");

  // ordering: shorter delays first, equal delays in scheduling order, timers after microtasks
  const order = [];
  setTimeout(() => order.push("t20"), 20);
  setTimeout(() => order.push("t0a"), 0);
  setTimeout(() => order.push("t0b"));
  setTimeout(() => order.push("neg"), -5);
  Promise.resolve().then(() => order.push("micro"));
  queueMicrotask(() => order.push("queued"));
  await sleep(40);
  assert.deepEqual(order, ["micro", "queued", "t0a", "t0b", "neg", "t20"]);

  // clearTimeout
  let cleared = false;
  const c = setTimeout(() => (cleared = true), 5);
  clearTimeout(c);
  await sleep(15);
  assert.equal(cleared, false, "a cleared timeout never runs");
  clearTimeout(123456); // unknown ids are ignored
  clearTimeout(undefined);
  clearTimeout(null);
  clearTimeout("nonsense");
  clearInterval(c);

  // clearing from inside another timer
  let ran = false;
  const later = setTimeout(() => (ran = true), 10);
  setTimeout(() => clearTimeout(later), 1);
  await sleep(20);
  assert.equal(ran, false, "cleared by an earlier timer");

  // setInterval re-arms and can be cleared inside its own callback
  let ticks = 0;
  await new Promise((resolve) => {
    const iv = setInterval(
      (step) => {
        ticks += step;
        if (ticks === 3) {
          clearInterval(iv);
          setTimeout(resolve, 20);
        }
      },
      2,
      1,
    );
  });
  assert.equal(ticks, 3, "interval stops once cleared inside the callback");

  // clearTimeout clears intervals too (shared id space)
  let ivCount = 0;
  const iv2 = setInterval(() => ivCount++, 1);
  await sleep(10);
  clearTimeout(iv2);
  const frozen = ivCount;
  await sleep(10);
  assert.ok(frozen >= 1, "interval ran at least once");
  assert.equal(ivCount, frozen, "clearTimeout stopped the interval");

  // nested timers
  const nested = await new Promise((resolve) => setTimeout(() => setTimeout(() => resolve("inner"), 1), 1));
  assert.equal(nested, "inner");

  // bad input
  assert.throws(() => setTimeout("console.log(1)", 1), TypeError, "code strings are not supported");
  assert.throws(() => setTimeout(), TypeError, "handler is required");
  assert.throws(() => setInterval({}, 1), TypeError);
  assert.throws(() => setTimeout(() => {}, 1n), TypeError, "BigInt delays are rejected like in browsers");
  let nanRan = false;
  setTimeout(() => (nanRan = true), NaN);
  setTimeout(() => {}, "abc");
  await sleep(5);
  assert.ok(nanRan, "NaN delay means 0");

  // queueMicrotask is native
  assert.equal(typeof queueMicrotask, "function");
  assert.throws(() => queueMicrotask("x"), TypeError, "queueMicrotask needs a function");
  const micro = await new Promise((resolve) => queueMicrotask(() => resolve("ok")));
  assert.equal(micro, "ok");
})
