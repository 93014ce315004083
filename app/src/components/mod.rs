//! The components of the workspace, one per file.

pub mod add_repository;
pub mod branch_page;
pub mod conversation;
pub mod dialog;
pub mod header;
pub mod home;
pub mod layout;
pub mod new_branch;
pub mod repository_item;
pub mod sandbox_panel;
pub mod settings;
pub mod sidebar;
pub mod sign_in;
pub mod status_badge;

/// The address of a branch page: `/r/{owner}/{repo}/{branch}`. A branch name keeps its
/// slashes; the characters that would end the path are escaped.
pub fn branch_href(owner: &str, repo: &str, branch: &str) -> String {
    let branch = branch.replace('%', "%25").replace('#', "%23");
    format!("/r/{owner}/{repo}/{branch}")
}

/// The address of a repository's settings page.
pub fn repository_settings_href(owner: &str, repo: &str) -> String {
    format!("/repositories/{owner}/{repo}/settings")
}

/// Loads `href` as a new page, so that everything on it is rendered afresh by the server.
pub fn go_to(href: &str) {
    if let Some(window) = web_sys::window() {
        let _ = window.location().assign(href);
    }
}

/// Loads the page again, after a change that shows in several places on it.
pub fn reload() {
    if let Some(window) = web_sys::window() {
        let _ = window.location().reload();
    }
}

/// Moves `id` to position `to` in `order`, keeping the others in their order.
pub fn moved(order: &[i64], id: i64, to: usize) -> Vec<i64> {
    let mut next: Vec<i64> = order.iter().copied().filter(|x| *x != id).collect();
    next.insert(to.min(next.len()), id);
    next
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moving_a_repository_keeps_the_others_in_order() {
        assert_eq!(moved(&[1, 2, 3, 4], 4, 0), vec![4, 1, 2, 3]);
        assert_eq!(moved(&[1, 2, 3, 4], 1, 2), vec![2, 3, 1, 4]);
        assert_eq!(moved(&[1, 2, 3], 2, 9), vec![1, 3, 2]);
    }

    #[test]
    fn branch_links_keep_slashes_and_escape_what_ends_a_path() {
        assert_eq!(branch_href("o", "r", "feature/x"), "/r/o/r/feature/x");
        assert_eq!(branch_href("o", "r", "a#1%"), "/r/o/r/a%231%25");
    }
}
