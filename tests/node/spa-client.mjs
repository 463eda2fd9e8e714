// Uses the API the way a single-page application does, with urql over fetch for
// queries and mutations and graphql-ws for subscriptions, and prints what it saw
// as one JSON object on stdout for tests/http/test_spa_client.py to check.
//
// Usage: node spa-client.mjs http://127.0.0.1:PORT/graphql
// ADMIN_TOKEN must hold an admin's login token. The script creates its own client
// and contracts, whose names start with RUN_PREFIX.
import { Client, fetchExchange, gql, subscriptionExchange } from '@urql/core';
import { buildClientSchema, getIntrospectionQuery } from 'graphql';
import { createClient as createWsClient } from 'graphql-ws';
import WebSocket from 'ws';

const url = process.argv[2];
const token = process.env.ADMIN_TOKEN;
const prefix = process.env.RUN_PREFIX ?? 'SPA paging';
if (!url || !token) {
  console.error('usage: ADMIN_TOKEN=... node spa-client.mjs http://127.0.0.1:PORT/graphql');
  process.exit(2);
}
const SUBSCRIPTION_TIMEOUT_MS = 15000;

const wsClient = createWsClient({
  url: url.replace(/^http/, 'ws'),
  webSocketImpl: WebSocket,
  connectionParams: { authorization: `Bearer ${token}` },
  lazy: false,
  retryAttempts: 0,
});

const client = new Client({
  url,
  requestPolicy: 'network-only',
  fetchOptions: () => ({ headers: { authorization: `Bearer ${token}` } }),
  exchanges: [
    fetchExchange,
    subscriptionExchange({
      forwardSubscription(request) {
        const input = { ...request, query: request.query || '' };
        return {
          subscribe(sink) {
            const unsubscribe = wsClient.subscribe(input, sink);
            return { unsubscribe };
          },
        };
      },
    }),
  ],
});

// Returns the data of an operation and throws on any error.
async function run(operation, document, variables = {}) {
  const result = await client[operation](document, variables).toPromise();
  if (result.error) {
    throw new Error(`${operation} failed: ${result.error.message}`);
  }
  return result.data;
}

async function introspect() {
  const data = await run('query', getIntrospectionQuery());
  const schema = buildClientSchema(data);
  const contract = schema.getType('Contract');
  return {
    queryType: schema.getQueryType().name,
    subscriptionFields: Object.keys(schema.getSubscriptionType().getFields()),
    contractHasVersion: 'version' in contract.getFields(),
  };
}

const VIEWER = gql`
  query Viewer {
    viewer { user { id } }
  }
`;
const CREATE_CLIENT = gql`
  mutation CreateClient($input: ClientInput!) {
    createClient(input: $input) { record { id } errors { code message } }
  }
`;
const CREATE_CONTRACT = gql`
  mutation CreateContract($input: CreateContractInput!) {
    createContract(input: $input) { contract { id version } errors { code message } }
  }
`;
const PAGE = gql`
  query Page($first: Int!, $after: String, $search: String!) {
    contracts(
      first: $first
      after: $after
      filter: { search: $search }
      orderBy: { field: NAME, direction: ASC }
    ) {
      totalCount
      pageInfo { hasNextPage endCursor }
      edges { cursor node { id name } }
    }
  }
`;
const UPDATE = gql`
  mutation Update($id: ID!, $input: UpdateContractInput!, $expectedVersion: Int) {
    updateContract(id: $id, input: $input, expectedVersion: $expectedVersion) {
      contract { id name version }
      errors { code message }
    }
  }
`;
const RECORD_NOTICE = gql`
  mutation Notice($id: ID!, $date: Date!) {
    recordNotice(contractId: $id, party: CLIENT, date: $date) {
      contract { id noticeEffectiveEnd }
      errors { code message }
    }
  }
`;
const NOTIFICATIONS = gql`
  subscription Notifications {
    notificationAdded { id kind title contract { id } }
  }
`;

async function createContracts(ownerId) {
  const created = await run('mutation', CREATE_CLIENT, { input: { name: `${prefix} client` } });
  const clientId = created.createClient.record.id;
  const contracts = [];
  for (const letter of ['A', 'B', 'C', 'D', 'E']) {
    const data = await run('mutation', CREATE_CONTRACT, {
      input: {
        name: `${prefix} ${letter}`,
        clientId,
        startDate: '2026-01-01',
        endDate: '2029-12-31',
        stage: 'SIGNED',
        signedDate: '2025-12-01',
        ownerId,
        noticePeriod: { count: 1, unit: 'MONTHS' },
      },
    });
    if (data.createContract.errors.length) {
      throw new Error(JSON.stringify(data.createContract.errors));
    }
    contracts.push(data.createContract.contract);
  }
  return contracts;
}

async function pageThrough() {
  const pages = [];
  let after = null;
  for (let page = 0; page < 10; page += 1) {
    const data = await run('query', PAGE, { first: 2, after, search: prefix });
    const connection = data.contracts;
    pages.push({
      totalCount: connection.totalCount,
      names: connection.edges.map((edge) => edge.node.name),
      hasNextPage: connection.pageInfo.hasNextPage,
      endCursorMatchesLastEdge:
        connection.pageInfo.endCursor === connection.edges.at(-1)?.cursor,
    });
    if (!connection.pageInfo.hasNextPage) {
      break;
    }
    after = connection.pageInfo.endCursor;
  }
  return pages;
}

async function conflict(contract) {
  const first = await run('mutation', UPDATE, {
    id: contract.id,
    input: { description: 'Edited in tab one' },
    expectedVersion: contract.version,
  });
  // A second tab still has the old version.
  const stale = await client
    .mutation(UPDATE, {
      id: contract.id,
      input: { description: 'Edited in tab two' },
      expectedVersion: contract.version,
    })
    .toPromise();
  const error = stale.error?.graphQLErrors?.[0];
  return {
    firstVersion: contract.version,
    versionAfterEdit: first.updateContract.contract.version,
    staleData: stale.data?.updateContract ?? null,
    staleCode: error?.extensions?.code ?? null,
    staleNetworkError: stale.error?.networkError?.message ?? null,
  };
}

// A document that does not validate. Under application/graphql-response+json the
// server responds with HTTP 400, which the client must still read as a GraphQL error.
async function invalidDocument() {
  const result = await client.query(gql`query Invalid { viewer { noSuchField } }`).toPromise();
  return {
    code: result.error?.graphQLErrors?.[0]?.extensions?.code ?? null,
    networkError: result.error?.networkError?.message ?? null,
  };
}

function waitForNotification() {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error('No notification arrived over the websocket in time.')),
      SUBSCRIPTION_TIMEOUT_MS,
    );
    const subscription = client.subscription(NOTIFICATIONS).subscribe((result) => {
      clearTimeout(timer);
      subscription.unsubscribe();
      if (result.error) {
        reject(result.error);
      } else {
        resolve(result.data.notificationAdded);
      }
    });
  });
}

function connected() {
  return new Promise((resolve) => {
    const stop = wsClient.on('connected', () => {
      stop();
      resolve();
    });
  });
}

try {
  const connection = connected();
  const schema = await introspect();
  const viewer = await run('query', VIEWER);
  const contracts = await createContracts(viewer.viewer.user.id);
  const pages = await pageThrough();
  const conflictResult = await conflict(contracts[0]);
  const invalid = await invalidDocument();

  await connection;
  const notification = waitForNotification();
  // The subscription starts when the server handles the subscribe message, and
  // only notifications created after that are sent.
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const today = new Date().toISOString().slice(0, 10);
  const notice = await run('mutation', RECORD_NOTICE, { id: contracts[1].id, date: today });
  const received = await notification;

  console.log(
    JSON.stringify({
      schema,
      pages,
      conflict: conflictResult,
      invalid,
      noticeErrors: notice.recordNotice.errors,
      notification: {
        kind: received.kind,
        title: received.title,
        contractId: received.contract?.id ?? null,
        expectedContractId: contracts[1].id,
      },
    }),
  );
} finally {
  await wsClient.dispose();
}
