/* examples/storefront/storefront.js: the storefront's widgets over Souk's Algolia protocol.
 * Only the stock libraries' public APIs are used; Souk is reached by pointing them at this page's
 * own origin: algoliasearch's `hosts` for searches, search-insights' `host` for events.
 *
 * Credentials come from the page's URL fragment (never sent to a server):
 *   #key=SEARCH_KEY&token=SOUK_USER_TOKEN
 * key: Souk's search key (any placeholder in development mode, which checks none); token: the
 * shopper's Souk user token, which the shop's backend would render into the page for a logged-in
 * user. Without a token the shopper is anonymous: searches are not personal and no Insights
 * event is sent (Souk stores events only with a signed user token). */
(function () {
  'use strict';
  /* search-insights' own stub (what its documented snippet does, minus loading it from a CDN):
   * calls queue until lib/search-insights.min.js, loaded after this file, takes them over. */
  window.AlgoliaAnalyticsObject = 'aa';
  window.aa = window.aa || function () { (window.aa.queue = window.aa.queue || []).push(arguments); };
  window.aa.version = '2.17.3';
  document.addEventListener('DOMContentLoaded', start);
})();

function start() {
  'use strict';
  var params = new URLSearchParams(location.hash.slice(1));
  var searchKey = params.get('key') || 'souk-development';
  var userToken = params.get('token') || '';
  var INDEX = 'debian';

  var searchClient = window['algoliasearch/lite'].liteClient('souk', searchKey, {
    hosts: [{ url: location.host, accept: 'readWrite', protocol: location.protocol.replace(':', '') }]
  });
  var aa = window.aa;

  var search = instantsearch({
    indexName: INDEX,
    searchClient: searchClient,
    routing: false,
    insights: userToken ? {
      insightsClient: aa,
      insightsInitParams: { host: location.origin, userToken: userToken, useCookie: false }
    } : false
  });

  search.addWidgets([
    instantsearch.widgets.searchBox({ container: '#searchbox', placeholder: 'Search packages',
                                      showLoadingIndicator: false }),
    instantsearch.widgets.stats({ container: '#stats' }),
    instantsearch.widgets.hierarchicalMenu({ container: '#categories',
                                             attributes: ['tag_facets', 'tags'],
                                             separator: '::', limit: 12 }),
    instantsearch.widgets.refinementList({ container: '#section', attribute: 'section',
                                           searchable: true, operator: 'or', limit: 10 }),
    instantsearch.widgets.refinementList({ container: '#maintainer', attribute: 'maintainer',
                                           searchable: true, operator: 'or', limit: 8 }),
    instantsearch.widgets.rangeInput({ container: '#size', attribute: 'installed_size_kb' }),
    instantsearch.widgets.sortBy({ container: '#sort', items: [
      { label: 'Relevance', value: INDEX },
      { label: 'Installed size, smallest first', value: INDEX + '_size_asc' },
      { label: 'Installed size, largest first', value: INDEX + '_size_desc' }
    ] }),
    instantsearch.widgets.hits({
      container: '#hits',
      templates: {
        item: function (hit, opts) {
          return opts.html`<div class="hit" data-id="${hit.objectID}"
              onClick=${function () { opts.sendEvent('click', hit, 'Hit Clicked'); }}>
            <div class="hit-title">${opts.components.Highlight({ hit: hit, attribute: 'title' })}</div>
            <div class="hit-meta">${hit.objectID} · ${hit.section} · ${hit.installed_size_kb} kB</div>
          </div>`;
        },
        empty: function (results, opts) {
          return opts.html`<div class="no-results">No package matches “${results.query}”.</div>`;
        }
      }
    }),
    instantsearch.widgets.pagination({ container: '#pagination', padding: 2 })
  ]);
  search.start();
  window.soukStorefront = search; /* for the browser test and the console */
}
