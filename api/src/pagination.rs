//! List paging: `?page=&page_size=` or `?limit=&offset=`, answered as
//! `{items, total, page, page_size}`.

use std::future::Future;

use cavs_models::store::StoreError;
use cavs_models::{Page, PageRequest};

use crate::error::ApiError;

/// Default page size.
pub const DEFAULT_PAGE_SIZE: u64 = 50;

/// The paging parameters of a list request.
#[derive(Debug, Clone, Copy, Default)]
pub struct Paging {
    /// 1-based page.
    pub page: Option<u64>,
    /// Items per page.
    pub page_size: Option<u64>,
    /// Items wanted (with `offset`).
    pub limit: Option<u64>,
    /// Items skipped (with `limit`).
    pub offset: Option<u64>,
}

impl Paging {
    /// Collects the four query parameters.
    pub fn new(
        page: Option<u64>,
        page_size: Option<u64>,
        limit: Option<u64>,
        offset: Option<u64>,
    ) -> Self {
        Paging {
            page,
            page_size,
            limit,
            offset,
        }
    }

    /// Runs `fetch` for the requested window. `limit`/`offset` take precedence over
    /// `page`/`page_size`; an offset that is not a multiple of the limit is served exactly by
    /// reading the two pages that cover it.
    pub async fn fetch<T, F, Fut>(self, fetch: F) -> Result<Page<T>, ApiError>
    where
        F: Fn(PageRequest) -> Fut,
        Fut: Future<Output = Result<Page<T>, StoreError>>,
    {
        let max = PageRequest::MAX_PAGE_SIZE;
        if self.limit.is_some() || self.offset.is_some() {
            let limit = self.limit.unwrap_or(DEFAULT_PAGE_SIZE);
            if !(1..=max).contains(&limit) {
                return Err(ApiError::bad_request(format!("limit must be 1-{max}")));
            }
            let offset = self.offset.unwrap_or(0);
            let first = offset / limit + 1;
            let mut page = fetch(PageRequest {
                page: first,
                page_size: limit,
            })
            .await?;
            let skip = offset % limit;
            if skip != 0 {
                let next = fetch(PageRequest {
                    page: first + 1,
                    page_size: limit,
                })
                .await?;
                page.items.drain(..(skip as usize).min(page.items.len()));
                page.items.extend(next.items);
                page.items.truncate(limit as usize);
            }
            page.page = first;
            page.page_size = limit;
            return Ok(page);
        }
        let page = self.page.unwrap_or(1);
        let page_size = self.page_size.unwrap_or(DEFAULT_PAGE_SIZE);
        if page < 1 {
            return Err(ApiError::bad_request("page starts at 1"));
        }
        if !(1..=max).contains(&page_size) {
            return Err(ApiError::bad_request(format!("page_size must be 1-{max}")));
        }
        Ok(fetch(PageRequest { page, page_size }).await?)
    }
}

/// Declares a `{items, total, page, page_size}` schema for an item type.
macro_rules! page_type {
    ($name:ident, $item:ty, $doc:literal) => {
        #[doc = $doc]
        #[derive(Debug, poem_openapi::Object)]
        pub struct $name {
            /// The items of this page.
            pub items: Vec<$item>,
            /// Items matching in total.
            pub total: u64,
            /// 1-based page.
            pub page: u64,
            /// Items per page.
            pub page_size: u64,
        }

        impl $name {
            /// Converts a store page.
            pub fn from_page<S>(page: cavs_models::Page<S>, f: impl FnMut(S) -> $item) -> Self {
                $name {
                    items: page.items.into_iter().map(f).collect(),
                    total: page.total,
                    page: page.page,
                    page_size: page.page_size,
                }
            }
        }
    };
}

pub(crate) use page_type;
